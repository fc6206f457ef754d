#include <tokenrelay/config/flags.hpp>
#include <tokenrelay/config/values.hpp>

#include <algorithm>
#include <array>
#include <cstdint>

namespace tokenrelay::config::detail {

namespace {

constexpr milliseconds one_ms{1};
// About eleven days: long enough for any timeout, short enough that nobody types it by
// mistake for milliseconds and gets a relay that never times out.
constexpr milliseconds max_seconds{1'000'000'000};
constexpr std::uint64_t max_connection_limit = 10'000'000;
constexpr std::size_t max_key_file_bytes = 64 * 1024;
// A million dollars per million tokens is far beyond any real price list; the bound only
// catches a value typed in the wrong unit.
constexpr double max_price_per_million = 1'000'000;
constexpr std::uint64_t max_token_budget = 1'000'000'000'000;

template <class T>
std::string set_integer(std::string_view text, std::uint64_t min, std::uint64_t max, T& out)
{
    const auto number = parse_integer(text, min, max);
    if (number)
        out = static_cast<T>(number.value);
    return number.problem;
}

std::string
set_seconds(std::string_view text, milliseconds min, milliseconds max, milliseconds& out)
{
    const auto duration = parse_seconds(text, min, max);
    if (duration)
        out = duration.value;
    return duration.problem;
}

std::string set_decimal(std::string_view text, double max, double& out)
{
    const auto number = parse_decimal(text, max);
    if (number)
        out = number.value;
    return number.problem;
}

std::string
set_one_of(std::string_view text, std::initializer_list<std::string_view> choices, std::string& out)
{
    std::string lowered(text);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    if (std::find(choices.begin(), choices.end(), lowered) != choices.end()) {
        out = lowered;
        return {};
    }
    std::string problem = "expected ";
    std::size_t i = 0;
    for (const auto choice : choices) {
        if (i != 0)
            problem += (i + 1 == choices.size()) ? " or " : ", ";
        problem += choice;
        ++i;
    }
    return problem + ", got " + quote(text);
}

std::string set_origins(std::string_view text, std::vector<std::string>& out)
{
    const auto items = parse_list(text, "origins");
    if (!items)
        return items.problem;
    for (const auto& item : items.value) {
        const auto origin = parse_origin(item);
        if (!origin)
            return origin.problem;
        if (std::find(out.begin(), out.end(), origin.value) == out.end())
            out.push_back(origin.value);
    }
    return {};
}

std::string set_host_names(std::string_view text, std::vector<std::string>& out)
{
    const auto items = parse_list(text, "host names");
    if (!items)
        return items.problem;
    for (const auto& item : items.value) {
        const auto host = parse_host_name(item);
        if (!host)
            return host.problem;
        if (std::find(out.begin(), out.end(), host.value) == out.end())
            out.push_back(host.value);
    }
    return {};
}

// A secret: the message describes the rule and leaves the value out.
constexpr std::string_view bad_bearer_token =
    "expected a bearer token of letters, digits and -._~+/ (RFC 6750 b64token)";

std::string set_bearer_token(std::string_view text, std::string& out)
{
    if (!is_b64token(text))
        return std::string(bad_bearer_token);
    out = text;
    return {};
}

// Read like --api-key-file's key, so the token stays out of `ps` and the environment.
std::string set_bearer_token_from_file(std::string_view path, std::string& out)
{
    const std::string file_path(path);
    const auto contents = read_file(file_path, max_key_file_bytes);
    if (!contents)
        return contents.problem;
    // Editors and `echo` leave a newline at the end; a token itself never has spaces.
    const auto token = trim(contents.value);
    if (token.empty())
        return quote(file_path) + " is empty";
    if (!is_b64token(token))
        return "the token in " + quote(file_path) + ": " + std::string(bad_bearer_token);
    out = std::string(token);
    return {};
}

std::string set_api_key_from_file(std::string_view path, std::string& out)
{
    const std::string file_path(path);
    const auto contents = read_file(file_path, max_key_file_bytes);
    if (!contents)
        return contents.problem;
    // Editors and `echo` leave a newline at the end; the key itself never has spaces.
    const auto key = trim(contents.value);
    if (key.empty())
        return quote(file_path) + " is empty";
    if (auto problem = check_api_key(key); !problem.empty())
        return "the key in " + quote(file_path) + ": " + problem;
    out = std::string(key);
    return {};
}

const std::array table{
    flag_spec{
        "listen",
        "HOST:PORT",
        "127.0.0.1:8080",
        "where to listen (0.0.0.0:8080 for all interfaces, [::1]:8080 for IPv6)",
        false,
        [](relay_config& c, std::string_view v) {
            auto address = parse_listen(v);
            if (address)
                c.listen = address.value;
            return address.problem;
        }},
    flag_spec{
        "static",
        "DIR",
        "the static/ that ships with the binary",
        "the chat page and its files",
        false,
        [](relay_config& c, std::string_view v) {
            auto problem = check_directory(std::string(v));
            if (problem.empty())
                c.static_dir = v;
            return problem;
        }},
    flag_spec{
        "upstream",
        "URL",
        "none: built-in demo model",
        "base URL of an OpenAI-compatible API, e.g. https://api.deepseek.com/v1",
        false,
        [](relay_config& c, std::string_view v) {
            auto url = parse_base_url(v);
            if (url)
                c.upstream = url.value;
            return url.problem;
        }},
    flag_spec{
        "model",
        "NAME",
        "deepseek-v3.2",
        "model sent upstream unless the client's options.model is allowed",
        false,
        [](relay_config& c, std::string_view v) {
            const auto name = trim(v);
            if (name.empty())
                return "expected a non-empty model name, got " + quote(v);
            c.model = name;
            return std::string{};
        }},
    flag_spec{
        "allowed-models",
        "A,B",
        "only --model",
        "models a client may ask for (comma-separated)",
        false,
        [](relay_config& c, std::string_view v) {
            auto names = parse_list(v, "model names");
            if (names)
                c.allowed_models = std::move(names.value);
            return names.problem;
        }},
    flag_spec{
        "upstream-format",
        "F",
        "openai",
        "openai (chat completions), or anthropic for the Messages API at URL/messages",
        false,
        [](relay_config& c, std::string_view v) {
            return set_one_of(v, {"openai", "anthropic"}, c.upstream_format);
        }},
    flag_spec{
        "upstream-ca",
        "FILE",
        "system store",
        "extra CA certificates (PEM) for the upstream",
        false,
        [](relay_config& c, std::string_view v) {
            auto problem = check_readable_file(std::string(v));
            if (problem.empty())
                c.upstream_ca = v;
            return problem;
        }},
    flag_spec{
        "threads",
        "N",
        "number of cores",
        "event-loop threads, 1 to 1024",
        false,
        [](relay_config& c, std::string_view v) { return set_integer(v, 1, 1024, c.threads); }},
    flag_spec{
        "max-connections",
        "N",
        "100000",
        "open WebSocket connections, all clients",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, max_connection_limit, c.max_connections);
        }},
    flag_spec{
        "max-connections-per-ip",
        "N",
        "1000",
        "open WebSocket connections from one client IP",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, max_connection_limit, c.max_connections_per_ip);
        }},
    flag_spec{
        "max-sessions-per-ip",
        "N",
        "100",
        "sessions one client IP may hold, attached or detached; past it its oldest detached "
        "session ends",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, max_connection_limit, c.max_sessions_per_ip);
        }},
    flag_spec{
        "max-generations-per-ip",
        "N",
        "20",
        "replies running at once for one client IP, WebSocket and HTTP",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, max_connection_limit, c.max_generations_per_ip);
        }},
    flag_spec{
        "max-detached-sessions",
        "N",
        "20000",
        "sessions without a connection, all clients; past it the oldest ends",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, max_connection_limit, c.max_detached_sessions);
        }},
    flag_spec{
        "max-upstream-requests",
        "N",
        "10000",
        "concurrent upstream requests, all clients; past it a chat gets `overloaded`",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, max_connection_limit, c.max_upstream_requests);
        }},
    flag_spec{
        "max-message-bytes",
        "N",
        "65536",
        "largest client frame or message, 64 to 16777216",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 64, 16u << 20, c.max_message_bytes);
        }},
    flag_spec{
        "resume-window",
        "S",
        "60",
        "seconds a detached session stays resumable (0: not at all)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, milliseconds{0}, max_seconds, c.resume_window);
        }},
    flag_spec{
        "first-token-timeout",
        "S",
        "30",
        "seconds to wait for the first token",
        false,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, one_ms, max_seconds, c.first_token_timeout);
        }},
    flag_spec{
        "token-timeout",
        "S",
        "30",
        "longest silence between two tokens, in seconds",
        false,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, one_ms, max_seconds, c.token_timeout);
        }},
    flag_spec{
        "idle-timeout",
        "S",
        "300",
        "seconds until a connection that sends nothing and answers no ping is dropped",
        false,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, one_ms, max_seconds, c.idle_timeout);
        }},
    flag_spec{
        "ping-interval",
        "S",
        "30",
        "ping a connection quiet for this many seconds",
        false,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, one_ms, max_seconds, c.ping_interval);
        }},
    flag_spec{
        "compression",
        "",
        "off",
        "allow permessage-deflate (environment: true/false, 1/0, yes/no)",
        false,
        [](relay_config& c, std::string_view v) {
            const auto on = parse_bool(v);
            if (on)
                c.compression = on.value;
            return on.problem;
        }},
    flag_spec{
        "drain-timeout",
        "S",
        "30",
        "seconds running generations may finish after SIGTERM/SIGINT",
        false,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, milliseconds{0}, max_seconds, c.drain_timeout);
        }},
    flag_spec{
        "rate-limit",
        "N",
        "30",
        "chat messages per minute per session (0: no limit)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 0, 1'000'000, c.rate_limit);
        }},
    flag_spec{
        "rate-limit-per-ip",
        "N",
        "300",
        "chat messages and completion requests per minute per client IP (0: no limit)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 0, 1'000'000, c.rate_limit_per_ip);
        }},
    flag_spec{
        "session-token-budget",
        "N",
        "0",
        "prompt + completion tokens per session (0: no limit)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 0, max_token_budget, c.session_token_budget);
        }},
    flag_spec{
        "price-input",
        "USD",
        "0",
        "USD per million prompt tokens, for stream_end.usage.cost_usd (0: no cost shown)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_decimal(v, max_price_per_million, c.price_input_usd);
        }},
    flag_spec{
        "price-output",
        "USD",
        "0",
        "USD per million completion tokens (0: no cost shown)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_decimal(v, max_price_per_million, c.price_output_usd);
        }},
    flag_spec{
        "client-token",
        "TOKEN",
        "none: open",
        "require Authorization: Bearer TOKEN or ?token=TOKEN to connect",
        false,
        [](relay_config& c, std::string_view v) { return set_bearer_token(v, c.client_token); }},
    flag_spec{
        "allowed-origin",
        "ORIGIN",
        "the relay's own origin",
        "browser Origin allowed to connect; may repeat (environment: comma-separated)",
        false,
        [](relay_config& c, std::string_view v) { return set_origins(v, c.allowed_origins); }},
    flag_spec{
        "public-host",
        "HOST",
        "none",
        "a host name clients reach the relay by (behind a proxy); may repeat (environment: "
        "comma-separated)",
        false,
        [](relay_config& c, std::string_view v) { return set_host_names(v, c.public_hosts); }},
    flag_spec{
        "metrics-token",
        "TOKEN",
        "none: open",
        "require Authorization: Bearer TOKEN for /metrics",
        false,
        [](relay_config& c, std::string_view v) { return set_bearer_token(v, c.metrics_token); }},
    flag_spec{
        "metrics-token-file",
        "FILE",
        "none",
        "file holding the metrics token (instead of --metrics-token, which shows in ps)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_bearer_token_from_file(v, c.metrics_token);
        }},
    flag_spec{
        "client-token-file",
        "FILE",
        "none",
        "file holding the client token (instead of --client-token, which shows in ps)",
        false,
        [](relay_config& c, std::string_view v) {
            return set_bearer_token_from_file(v, c.client_token);
        }},
    flag_spec{
        "log-level",
        "L",
        "info",
        "debug, info, warn or error",
        false,
        [](relay_config& c, std::string_view v) {
            return set_one_of(v, {"debug", "info", "warn", "error"}, c.log_level);
        }},
    flag_spec{
        "log-format",
        "F",
        "text",
        "text, or json for one JSON object per line",
        false,
        [](relay_config& c, std::string_view v) {
            return set_one_of(v, {"text", "json"}, c.log_format);
        }},
    flag_spec{
        "log-content",
        "",
        "off",
        "log each message and reply in generation_end (environment: true/false)",
        false,
        [](relay_config& c, std::string_view v) {
            const auto on = parse_bool(v);
            if (on)
                c.log_content = on.value;
            return on.problem;
        }},
    flag_spec{
        "api-key-file",
        "FILE",
        "none: TOKENRELAY_API_KEY",
        "file holding the upstream API key (wins over TOKENRELAY_API_KEY)",
        false,
        [](relay_config& c, std::string_view v) { return set_api_key_from_file(v, c.api_key); }},

    // Test and benchmark knobs. The protocol limits may only be lowered, so a test can
    // reach them quickly without a deployment being able to exceed what PROTOCOL.md promises.
    flag_spec{
        "demo-token-interval-ms",
        "N",
        "35",
        "milliseconds between the demo model's tokens",
        true,
        [](relay_config& c, std::string_view v) {
            std::uint64_t ms = 0;
            auto problem = set_integer(v, 0, 60'000, ms);
            if (problem.empty())
                c.demo_token_interval = milliseconds{static_cast<milliseconds::rep>(ms)};
            return problem;
        }},
    flag_spec{
        "header-timeout",
        "S",
        "10",
        "seconds to receive an HTTP request's headers",
        true,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, one_ms, milliseconds{600'000}, c.header_timeout);
        }},
    flag_spec{
        "upstream-connect-timeout",
        "S",
        "10",
        "seconds to connect to the upstream",
        true,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, one_ms, milliseconds{600'000}, c.upstream_connect_timeout);
        }},
    flag_spec{
        "upstream-max-retries",
        "N",
        "4",
        "retries before the first token (section 6)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 0, 4, c.upstream_max_retries);
        }},
    flag_spec{
        "upstream-retry-budget",
        "S",
        "15",
        "seconds of retry waiting in all (section 6)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_seconds(v, milliseconds{0}, milliseconds{15'000}, c.upstream_retry_budget);
        }},
    flag_spec{
        "max-context-messages",
        "N",
        "200",
        "messages in a chat's context",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, 200, c.max_context_messages);
        }},
    flag_spec{
        "max-context-bytes",
        "N",
        "1048576",
        "bytes of a chat's context",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, 1u << 20, c.max_context_bytes);
        }},
    flag_spec{
        "max-tokens-ceiling",
        "N",
        "32768",
        "largest options.max_tokens",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, 32768, c.max_tokens_ceiling);
        }},
    flag_spec{
        "max-http-body-bytes",
        "N",
        "1048576",
        "largest HTTP request body (section 1)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, 1u << 20, c.max_http_body_bytes);
        }},
    flag_spec{
        "outbound-backlog-bytes",
        "N",
        "1048576",
        "outbound bytes before the upstream is paused (section 5)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, 1u << 20, c.outbound_backlog_bytes);
        }},
    flag_spec{
        "replay-log-bytes",
        "N",
        "16777216",
        "bytes of a session's replay log (section 3)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 1, 16u << 20, c.replay_log_bytes);
        }},
    flag_spec{
        "history-max-turns",
        "N",
        "64",
        "turns of a session's history (section 4)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 0, 64, c.history_max_turns);
        }},
    flag_spec{
        "history-max-bytes",
        "N",
        "262144",
        "bytes of a session's history (section 4)",
        true,
        [](relay_config& c, std::string_view v) {
            return set_integer(v, 0, 256 * 1024, c.history_max_bytes);
        }},
};

} // namespace

std::span<const flag_spec> flags()
{
    return table;
}

const flag_spec* find_flag(std::string_view name)
{
    const auto it = std::find_if(table.begin(), table.end(), [&](const flag_spec& spec) {
        return spec.name == name;
    });
    return it == table.end() ? nullptr : &*it;
}

std::string env_name(std::string_view flag_name)
{
    std::string out = "TOKENRELAY_";
    for (const char c : flag_name)
        out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return out;
}

std::string check_api_key(std::string_view key)
{
    // The key goes into an Authorization header as is; a space or line break inside it would
    // be a broken or injected header.
    if (!is_visible_ascii(key))
        return "the key must be printable ASCII without spaces or line breaks";
    return {};
}

} // namespace tokenrelay::config::detail
