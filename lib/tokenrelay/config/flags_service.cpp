// Where the relay listens and what it relays to (PROTOCOL.md section 7).

#include <tokenrelay/config/flag_rows.hpp>

#include <array>

namespace tokenrelay::config::detail {

namespace {

std::string show_listen(const relay_config& c)
{
    const auto& host = c.listen.host;
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(c.listen.port);
}

constexpr std::array rows{
    flag_spec{
        .name = "listen",
        .metavar = "HOST:PORT",
        .help = "where to listen (0.0.0.0:8080 for all interfaces, [::1]:8080 for IPv6)",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto address = parse_listen(v);
                if (address)
                    c.listen = address.value;
                return address.problem;
            },
        .show = show_listen,
        .unset = {},
    },
    flag_spec{
        .name = "static",
        .metavar = "DIR",
        .help = "the chat page and its files",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto problem = check_directory(std::string(v));
                if (problem.empty())
                    c.static_dir = v;
                return problem;
            },
        .show = [](const relay_config& c) { return c.static_dir; },
        .unset = "the static/ that ships with the binary",
    },
    flag_spec{
        .name = "upstream",
        .metavar = "URL",
        .help = "base URL of an OpenAI-compatible API, e.g. https://api.deepseek.com/v1",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto url = parse_base_url(v);
                if (url)
                    c.upstream = url.value;
                return url.problem;
            },
        .show = [](const relay_config& c) { return c.upstream; },
        .unset = "none: built-in demo model",
    },
    flag_spec{
        .name = "model",
        .metavar = "NAME",
        .help = "model sent upstream unless the client's options.model is allowed",
        .apply =
            [](relay_config& c, std::string_view v) {
                const auto name = trim(v);
                if (name.empty())
                    return "expected a non-empty model name, got " + quote(v);
                c.model = name;
                return std::string{};
            },
        .show = [](const relay_config& c) { return c.model; },
        .unset = {},
    },
    flag_spec{
        .name = "allowed-models",
        .metavar = "A,B",
        .help = "models a client may ask for (comma-separated)",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto names = parse_list(v, "model names");
                if (names)
                    c.allowed_models = std::move(names.value);
                return names.problem;
            },
        .show = [](const relay_config& c) { return comma_separated(c.allowed_models); },
        .unset = "only --model",
    },
    choice_flag<&relay_config::upstream_format, api_format_choices>(
        "upstream-format",
        "F",
        "openai (chat completions), or anthropic for the Messages API at URL/messages"
    ),
    flag_spec{
        .name = "upstream-ca",
        .metavar = "FILE",
        .help = "extra CA certificates (PEM) for the upstream",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto problem = check_readable_file(std::string(v));
                if (problem.empty())
                    c.upstream_ca = v;
                return problem;
            },
        .show = [](const relay_config& c) { return c.upstream_ca; },
        .unset = "system store",
    },
    flag_spec{
        .name = "store",
        .metavar = "URL",
        .help = "where sessions live: memory, or redis://HOST:PORT[/DB] / rediss://... shared by "
                "every instance that names it",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto store = parse_store(v);
                if (store)
                    c.store = store.value;
                return store.problem;
            },
        .show =
            [](const relay_config& c) {
                const auto& s = c.store;
                if (!s.redis)
                    return std::string("memory");
                const bool v6 = s.host.find(':') != std::string::npos;
                return std::string(s.tls ? "rediss://" : "redis://") +
                       (s.username.empty() ? "" : s.username + "@") +
                       (v6 ? "[" + s.host + "]" : s.host) + ":" + std::to_string(s.port) + "/" +
                       std::to_string(s.db);
            },
        .unset = {},
    },
    flag_spec{
        .name = "store-ca",
        .metavar = "FILE",
        .help = "extra CA certificates (PEM) for a rediss:// store",
        .apply =
            [](relay_config& c, std::string_view v) {
                auto problem = check_readable_file(std::string(v));
                if (problem.empty())
                    c.store_ca = v;
                return problem;
            },
        .show = [](const relay_config& c) { return c.store_ca; },
        .unset = "system store",
    },
    flag_spec{
        .name = "threads",
        .metavar = "N",
        .help = "event-loop threads, 1 to 1024",
        .apply = [](relay_config& c,
                    std::string_view v) { return set_integer(v, 1, 1024, c.threads); },
        // 0, which no flag can give, leaves the choice to the app.
        .show = [](const relay_config& c
                ) { return c.threads == 0 ? std::string{} : std::to_string(c.threads); },
        .unset = "number of cores",
    },
};

} // namespace

std::span<const flag_spec> service_flags()
{
    return rows;
}

} // namespace tokenrelay::config::detail
