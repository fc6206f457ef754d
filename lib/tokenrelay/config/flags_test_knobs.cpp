// Test and benchmark knobs, left out of usage(). The protocol limits may only be lowered, so
// a test can reach them quickly without a deployment being able to exceed what PROTOCOL.md
// promises.

#include <tokenrelay/config/flag_rows.hpp>

#include <array>

namespace tokenrelay::config::detail {

namespace {

using c = relay_config;
constexpr bool hidden = true;

constexpr std::array rows{
    flag_spec{
        .name = "demo-token-interval-ms",
        .metavar = "N",
        .help = "milliseconds between the demo model's tokens",
        .hidden = hidden,
        .apply =
            [](relay_config& config, std::string_view v) {
                std::uint64_t ms = 0;
                auto problem = set_integer(v, 0, 60'000, ms);
                if (problem.empty())
                    config.demo_token_interval = milliseconds{static_cast<milliseconds::rep>(ms)};
                return problem;
            },
        .show = [](const relay_config& config
                ) { return std::to_string(config.demo_token_interval.count()); },
        .unset = {},
    },
    seconds_flag<&c::header_timeout, 1, 600'000>(
        "header-timeout", "seconds to receive an HTTP request's headers", hidden
    ),
    seconds_flag<&c::upstream_connect_timeout, 1, 600'000>(
        "upstream-connect-timeout", "seconds to connect to the upstream", hidden
    ),
    integer_flag<&c::upstream_max_retries, 0, 4>(
        "upstream-max-retries", "retries before the first token (section 6)", hidden
    ),
    seconds_flag<&c::upstream_retry_budget, 0, 15'000>(
        "upstream-retry-budget", "seconds of retry waiting in all (section 6)", hidden
    ),
    integer_flag<&c::max_context_messages, 1, 200>(
        "max-context-messages", "messages in a chat's context", hidden
    ),
    integer_flag<&c::max_context_bytes, 1, 1u << 20>(
        "max-context-bytes", "bytes of a chat's context", hidden
    ),
    integer_flag<&c::max_tokens_ceiling, 1, 32768>(
        "max-tokens-ceiling", "largest options.max_tokens", hidden
    ),
    integer_flag<&c::max_http_body_bytes, 1, 1u << 20>(
        "max-http-body-bytes", "largest HTTP request body (section 1)", hidden
    ),
    integer_flag<&c::outbound_backlog_bytes, 1, 1u << 20>(
        "outbound-backlog-bytes", "outbound bytes before the upstream is paused (section 5)", hidden
    ),
    integer_flag<&c::replay_log_bytes, 1, 16u << 20>(
        "replay-log-bytes", "bytes of a session's replay log (section 3)", hidden
    ),
    integer_flag<&c::history_max_turns, 0, 64>(
        "history-max-turns", "turns of a session's history (section 4)", hidden
    ),
    integer_flag<&c::history_max_bytes, 0, 256 * 1024>(
        "history-max-bytes", "bytes of a session's history (section 4)", hidden
    ),
};

} // namespace

std::span<const flag_spec> test_knob_flags()
{
    return rows;
}

} // namespace tokenrelay::config::detail
