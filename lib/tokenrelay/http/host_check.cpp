#include <tokenrelay/http/host_check.hpp>

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace tokenrelay::http_server {
namespace {

char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

bool all_digits(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// RFC 3986 reg-name: unreserved characters, sub-delims and percent-encoded octets. A name
/// with anything else ("a@b", "a b", "a/b") is no host.
bool is_reg_name(std::string_view name)
{
    constexpr std::string_view allowed = "-._~!$&'()*+,;=%";
    return std::all_of(name.begin(), name.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               allowed.find(c) != std::string_view::npos;
    });
}

/// A final dot only says the name is fully qualified: "example.com." is "example.com".
std::string_view without_final_dot(std::string_view name)
{
    if (name.ends_with('.'))
        name.remove_suffix(1);
    return name;
}

bool is_loopback_name(std::string_view name)
{
    constexpr std::string_view suffix = ".localhost";
    return iequals(name, "localhost") ||
           (name.size() > suffix.size() && iequals(name.substr(name.size() - suffix.size()), suffix)
           );
}

/// The host of a normalised origin: "https://chat.example.com:8443" -> "chat.example.com".
std::string_view origin_host(std::string_view origin)
{
    const auto url = boost::urls::parse_absolute_uri(origin);
    return url ? without_final_dot(url->encoded_host()) : std::string_view{};
}

bool is_known(std::string_view name, const known_hosts& known)
{
    if (iequals(name, known.listen_host))
        return true;
    const auto& names = known.public_hosts;
    if (std::any_of(names.begin(), names.end(), [&](const auto& h) { return iequals(name, h); }))
        return true;
    const auto& origins = known.allowed_origins;
    return std::any_of(origins.begin(), origins.end(), [&](const auto& o) {
        return iequals(name, origin_host(o));
    });
}

} // namespace

known_hosts known_hosts_of(const config::relay_config& cfg)
{
    return {cfg.listen.host, cfg.public_hosts, cfg.allowed_origins};
}

host_verdict check_host(std::string_view host, const known_hosts& known)
{
    // uri-host [":" port] (RFC 9110 section 7.2, RFC 3986 section 3.2.2); only
    // IP-literals hold a colon, inside their brackets.
    std::string_view name = host;
    std::string_view port;
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        if (close == std::string_view::npos ||
            !boost::urls::parse_ipv6_address(host.substr(1, close - 1)))
            return host_verdict::malformed;
        name = host.substr(0, close + 1);
        port = host.substr(close + 1);
    } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        name = host.substr(0, colon);
        port = host.substr(colon);
    }
    if (!port.empty() && (port.front() != ':' || !all_digits(port.substr(1))))
        return host_verdict::malformed;
    if (name.starts_with('[') || boost::urls::parse_ipv4_address(name))
        return host_verdict::allowed;
    if (!is_reg_name(name))
        return host_verdict::malformed;
    name = without_final_dot(name);
    if (!name.empty() && (is_loopback_name(name) || is_known(name, known)))
        return host_verdict::allowed;
    return host_verdict::misdirected;
}

} // namespace tokenrelay::http_server
