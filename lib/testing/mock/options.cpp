#include <charconv>
#include <limits>
#include <testing/mock/options.hpp>

namespace tokenrelay::mock {
namespace {

template <class T> std::optional<T> parse_number(std::string_view s) noexcept
{
    T v{};
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || p != end)
        return std::nullopt;
    return v;
}

// HOST:PORT, with an IPv6 host in brackets ("[::1]:0").
bool parse_listen(std::string_view s, options& o)
{
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return false;
    auto host = s.substr(0, colon);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']')
            return false;
        host = host.substr(1, host.size() - 2);
    }
    const auto port = parse_number<std::uint16_t>(s.substr(colon + 1));
    if (!port)
        return false;
    o.host = std::string(host);
    o.port = *port;
    return true;
}

} // namespace

options_result parse_options(std::span<const std::string_view> args)
{
    options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        auto flag = args[i];
        std::optional<std::string_view> value;
        if (const auto eq = flag.find('='); eq != std::string_view::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        if (flag != "--listen" && flag != "--tls-cert" && flag != "--tls-key" &&
            flag != "--token-interval-ms")
            return {std::nullopt, "unknown flag " + std::string(flag)};
        if (!value) {
            if (i + 1 >= args.size())
                return {std::nullopt, std::string(flag) + " needs a value"};
            value = args[++i];
        }

        if (flag == "--listen") {
            if (!parse_listen(*value, o))
                return {std::nullopt, "--listen: expected HOST:PORT, got " + std::string(*value)};
        } else if (flag == "--tls-cert") {
            o.tls_cert = std::string(*value);
        } else if (flag == "--tls-key") {
            o.tls_key = std::string(*value);
        } else {
            const auto ms = parse_number<int>(*value);
            if (!ms || *ms < 0)
                return {
                    std::nullopt,
                    "--token-interval-ms: expected a non-negative integer, got " +
                        std::string(*value)};
            o.token_interval = std::chrono::milliseconds(*ms);
        }
    }
    if (o.tls_cert.empty() != o.tls_key.empty())
        return {std::nullopt, "--tls-cert and --tls-key must be given together"};
    return {o, {}};
}

} // namespace tokenrelay::mock
