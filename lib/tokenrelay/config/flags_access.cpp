// Who may connect and the secrets that decide it (PROTOCOL.md section 7). A secret is never
// echoed in an error or shown by usage().

#include <tokenrelay/config/flag_rows.hpp>

#include <algorithm>
#include <array>

namespace tokenrelay::config::detail {

namespace {

constexpr std::size_t max_key_file_bytes = 64 * 1024;

// Appends what `text` lists that `out` lacks; `parse_item` checks and normalises one item.
std::string append_list(
    std::string_view text,
    std::string_view what,
    parsed<std::string> (*parse_item)(std::string_view),
    std::vector<std::string>& out
)
{
    const auto items = parse_list(text, what);
    if (!items)
        return items.problem;
    for (const auto& item : items.value) {
        const auto value = parse_item(item);
        if (!value)
            return value.problem;
        if (std::find(out.begin(), out.end(), value.value) == out.end())
            out.push_back(value.value);
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

// The one secret a file holds, or why not. Editors and `echo` leave a newline at the end;
// a secret itself never has spaces. `check` vets the secret without echoing it.
std::string read_secret_file(
    std::string_view path,
    std::string_view what,
    std::string (*check)(std::string_view),
    std::string& out
)
{
    const std::string file_path(path);
    const auto contents = read_file(file_path, max_key_file_bytes);
    if (!contents)
        return contents.problem;
    const auto secret = trim(contents.value);
    if (secret.empty())
        return quote(file_path) + " is empty";
    if (auto problem = check(secret); !problem.empty())
        return "the " + std::string(what) + " in " + quote(file_path) + ": " + problem;
    out = std::string(secret);
    return {};
}

std::string check_bearer_token(std::string_view token)
{
    return is_b64token(token) ? std::string{} : std::string(bad_bearer_token);
}

// Read like --api-key-file's key, so the token stays out of `ps` and the environment.
std::string set_bearer_token_from_file(std::string_view path, std::string& out)
{
    return read_secret_file(path, "token", check_bearer_token, out);
}

constexpr std::array rows{
    flag_spec{
        .name = "client-token",
        .metavar = "TOKEN",
        .help = "require Authorization: Bearer TOKEN or ?token=TOKEN to connect",
        .apply = [](relay_config& c,
                    std::string_view v) { return set_bearer_token(v, c.client_token); },
        .unset = "none: open",
    },
    flag_spec{
        .name = "allowed-origin",
        .metavar = "ORIGIN",
        .help = "browser Origin allowed to connect; may repeat (environment: comma-separated)",
        .apply = [](relay_config& c, std::string_view v
                 ) { return append_list(v, "origins", parse_origin, c.allowed_origins); },
        .show = [](const relay_config& c) { return comma_separated(c.allowed_origins); },
        .unset = "the relay's own origin",
    },
    flag_spec{
        .name = "public-host",
        .metavar = "HOST",
        .help = "a host name clients reach the relay by (behind a proxy); may repeat "
                "(environment: comma-separated)",
        .apply = [](relay_config& c, std::string_view v
                 ) { return append_list(v, "host names", parse_host_name, c.public_hosts); },
        .show = [](const relay_config& c) { return comma_separated(c.public_hosts); },
        .unset = "none",
    },
    flag_spec{
        .name = "metrics-token",
        .metavar = "TOKEN",
        .help = "require Authorization: Bearer TOKEN for /metrics",
        .apply = [](relay_config& c,
                    std::string_view v) { return set_bearer_token(v, c.metrics_token); },
        .unset = "none: open",
    },
    flag_spec{
        .name = "metrics-token-file",
        .metavar = "FILE",
        .help = "file holding the metrics token (instead of --metrics-token, which shows in ps)",
        .apply = [](relay_config& c,
                    std::string_view v) { return set_bearer_token_from_file(v, c.metrics_token); },
        .unset = "none",
    },
    flag_spec{
        .name = "store-password-file",
        .metavar = "FILE",
        .help = "file holding the store's password (wins over TOKENRELAY_STORE_PASSWORD)",
        .apply =
            [](relay_config& c, std::string_view v) {
                return read_secret_file(v, "password", check_store_password, c.store_password);
            },
        .unset = "none: TOKENRELAY_STORE_PASSWORD",
    },
    flag_spec{
        .name = "client-token-file",
        .metavar = "FILE",
        .help = "file holding the client token (instead of --client-token, which shows in ps)",
        .apply = [](relay_config& c,
                    std::string_view v) { return set_bearer_token_from_file(v, c.client_token); },
        .unset = "none",
    },
};

constexpr std::array api_key_rows{
    flag_spec{
        .name = "api-key-file",
        .metavar = "FILE",
        .help = "file holding the upstream API key (wins over TOKENRELAY_API_KEY)",
        .apply = [](relay_config& c, std::string_view v
                 ) { return read_secret_file(v, "key", check_api_key, c.api_key); },
        .unset = "none: TOKENRELAY_API_KEY",
    },
};

} // namespace

std::span<const flag_spec> access_flags()
{
    return rows;
}

// Redis takes any bytes as a password; a line break or other control character is a
// mistake in the file (or a second line), never part of it.
std::string check_store_password(std::string_view password)
{
    for (unsigned char ch : password)
        if (ch < 0x20 || ch == 0x7f)
            return "expected one line without control characters";
    return {};
}

std::span<const flag_spec> api_key_flags()
{
    return api_key_rows;
}

} // namespace tokenrelay::config::detail
