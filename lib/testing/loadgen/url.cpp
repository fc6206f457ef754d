#include <charconv>
#include <testing/loadgen/url.hpp>

namespace tokenrelay::loadgen {

std::optional<target_url> parse_url(std::string_view url)
{
    target_url t;
    const auto sep = url.find("://");
    if (sep == std::string_view::npos)
        return std::nullopt;
    t.scheme = std::string(url.substr(0, sep));
    if (t.scheme != "ws" && t.scheme != "http")
        return std::nullopt;
    auto rest = url.substr(sep + 3);
    const auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));

    std::string_view port_text;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        t.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return std::nullopt;
            port_text = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        t.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
            port_text = authority.substr(colon + 1);
    }
    if (t.host.empty())
        return std::nullopt;
    if (port_text.empty()) {
        t.port = 80;
    } else {
        auto [p, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), t.port);
        if (ec != std::errc{} || p != port_text.data() + port_text.size() || t.port == 0)
            return std::nullopt;
    }
    return t;
}

std::string with_query(std::string_view path, std::string_view key, std::string_view value)
{
    std::string out(path);
    out += path.find('?') == std::string_view::npos ? '?' : '&';
    out += key;
    out += '=';
    out += value;
    return out;
}

} // namespace tokenrelay::loadgen
