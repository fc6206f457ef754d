// Limits, timeouts and prices a deployment sets (PROTOCOL.md section 7).

#include <tokenrelay/config/flag_rows.hpp>

#include <array>

namespace tokenrelay::config::detail {

namespace {

using c = relay_config;

// About eleven days: long enough for any timeout, short enough that nobody types it by
// mistake for milliseconds and gets a relay that never times out.
constexpr milliseconds::rep max_seconds_ms = 1'000'000'000;
constexpr std::uint64_t max_connection_limit = 10'000'000;
// A million dollars per million tokens is far beyond any real price list; the bound only
// catches a value typed in the wrong unit.
constexpr std::uint64_t max_price_per_million = 1'000'000;
constexpr std::uint64_t max_token_budget = 1'000'000'000'000;

constexpr std::array rows{
    integer_flag<&c::max_connections, 1, max_connection_limit>(
        "max-connections", "open WebSocket connections, all clients"
    ),
    integer_flag<&c::max_connections_per_ip, 1, max_connection_limit>(
        "max-connections-per-ip", "open WebSocket connections from one client IP"
    ),
    integer_flag<&c::max_sessions_per_ip, 1, max_connection_limit>(
        "max-sessions-per-ip",
        "sessions one client IP may hold, attached or detached; past it its oldest detached "
        "session ends"
    ),
    integer_flag<&c::max_connections_per_session, 1, 1024>(
        "max-connections-per-session",
        "connections sharing one session; past it the session's oldest connection is closed "
        "with 4001 (1: a new connection takes the session over)"
    ),
    integer_flag<&c::max_generations_per_ip, 1, max_connection_limit>(
        "max-generations-per-ip", "replies running at once for one client IP, WebSocket and HTTP"
    ),
    integer_flag<&c::max_detached_sessions, 1, max_connection_limit>(
        "max-detached-sessions",
        "sessions without a connection, all clients; past it the oldest ends"
    ),
    integer_flag<&c::max_upstream_requests, 1, max_connection_limit>(
        "max-upstream-requests",
        "concurrent upstream requests, all clients; past it a chat gets `overloaded`"
    ),
    integer_flag<&c::max_message_bytes, 64, 16u << 20>(
        "max-message-bytes", "largest client frame or message, 64 to 16777216"
    ),
    integer_flag<&c::max_image_bytes, 0, 256u << 20>(
        "max-image-bytes",
        "image URL bytes a chat or HTTP request may carry beyond the message and body limits"
    ),
    seconds_flag<&c::resume_window, 0, max_seconds_ms>(
        "resume-window", "seconds a detached session stays resumable (0: not at all)"
    ),
    seconds_flag<&c::first_token_timeout, 1, max_seconds_ms>(
        "first-token-timeout", "seconds to wait for the first token"
    ),
    seconds_flag<&c::token_timeout, 1, max_seconds_ms>(
        "token-timeout", "longest silence between two tokens, in seconds"
    ),
    seconds_flag<&c::idle_timeout, 1, max_seconds_ms>(
        "idle-timeout",
        "seconds until a connection that sends nothing and answers no ping is dropped"
    ),
    seconds_flag<&c::ping_interval, 1, max_seconds_ms>(
        "ping-interval", "ping a connection quiet for this many seconds"
    ),
    boolean_flag<&c::compression>(
        "compression", "allow permessage-deflate (environment: true/false, 1/0, yes/no)"
    ),
    seconds_flag<&c::drain_timeout, 0, max_seconds_ms>(
        "drain-timeout", "seconds running generations may finish after SIGTERM/SIGINT"
    ),
    integer_flag<&c::rate_limit, 0, 1'000'000>(
        "rate-limit", "chat messages per minute per session (0: no limit)"
    ),
    integer_flag<&c::rate_limit_per_ip, 0, 1'000'000>(
        "rate-limit-per-ip",
        "chat messages and completion requests per minute per client IP (0: no limit)"
    ),
    integer_flag<&c::session_token_budget, 0, max_token_budget>(
        "session-token-budget", "prompt + completion tokens per session (0: no limit)"
    ),
    decimal_flag<&c::price_input_usd, max_price_per_million>(
        "price-input",
        "USD per million prompt tokens, for stream_end.usage.cost_usd (0: no cost shown)"
    ),
    decimal_flag<&c::price_output_usd, max_price_per_million>(
        "price-output", "USD per million completion tokens (0: no cost shown)"
    ),
};

} // namespace

std::span<const flag_spec> limit_flags()
{
    return rows;
}

} // namespace tokenrelay::config::detail
