// The address kinds of PROTOCOL.md section 7: where to listen, the upstream's base URL,
// browser origins and public host names.

#include <tokenrelay/config/values.hpp>

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

#include <algorithm>
#include <charconv>

namespace tokenrelay::config::detail {

namespace {

std::string bad_origin(std::string_view text)
{
    return "expected an origin such as https://chat.example.com (scheme, host and optional "
           "port, no path), got " +
           quote(text);
}

} // namespace

parsed<listen_address> parse_listen(std::string_view text)
{
    parsed<listen_address> out;
    const auto bad_host = [&] {
        out.problem = "expected HOST:PORT with an IPv4 address, a [bracketed] IPv6 address or "
                      "localhost, got " +
                      quote(text);
        return out;
    };
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
            return bad_host();
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (!boost::urls::parse_ipv6_address(host))
            return bad_host();
        out.value.host = std::string(host);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return bad_host();
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (iequals(host, "localhost")) {
            out.value.host = "127.0.0.1";
        } else if (boost::urls::parse_ipv4_address(host)) {
            out.value.host = std::string(host);
        } else {
            return bad_host();
        }
    }
    const auto number = parse_integer(port, 0, 65535);
    if (!number) {
        out.problem = "expected a port from 0 to 65535 after the host, got " + quote(text);
        return out;
    }
    out.value.port = static_cast<std::uint16_t>(number.value);
    return out;
}

parsed<std::string> parse_base_url(std::string_view text)
{
    parsed<std::string> out;
    const auto parsed_url = boost::urls::parse_absolute_uri(text);
    if (!parsed_url || (parsed_url->scheme_id() != boost::urls::scheme::http &&
                        parsed_url->scheme_id() != boost::urls::scheme::https)) {
        out.problem = "expected an http:// or https:// base URL, got " + quote(text);
        return out;
    }
    const auto& url = *parsed_url;
    // User info would carry a credential in a value that gets logged; the key has its own
    // channels (PROTOCOL.md section 7), so the URL is not echoed here.
    if (url.has_userinfo()) {
        out.problem = "user info in the URL is not allowed (the key comes from "
                      "TOKENRELAY_API_KEY or --api-key-file)";
        return out;
    }
    if (!url.has_authority() || url.encoded_host().empty()) {
        out.problem = "expected a URL with a host, got " + quote(text);
        return out;
    }
    if (url.has_port() && !parse_integer(url.port(), 1, 65535)) {
        out.problem = "expected a port from 1 to 65535 in the URL, got " + quote(text);
        return out;
    }
    if (url.has_query()) {
        out.problem = "expected a base URL without a query, got " + quote(text);
        return out;
    }
    out.value = lowercase(url.scheme());
    out.value.append(text.substr(url.scheme().size()));
    while (out.value.ends_with('/'))
        out.value.pop_back();
    return out;
}

parsed<store_address> parse_store(std::string_view text)
{
    parsed<store_address> out;
    if (text == "memory")
        return out;
    const auto parsed_url = boost::urls::parse_absolute_uri(text);
    const auto scheme = parsed_url ? lowercase(parsed_url->scheme()) : std::string{};
    if (!parsed_url || (scheme != "redis" && scheme != "rediss")) {
        out.problem = "expected memory, redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB], got " +
                      quote(text);
        return out;
    }
    const auto& url = *parsed_url;
    // Not echoed from here on: the URL may carry a credential.
    if (url.has_password()) {
        out.problem = "a password in the store URL is not allowed (it would show in ps and "
                      "logs): set TOKENRELAY_STORE_PASSWORD or use --store-password-file";
        return out;
    }
    if (!url.has_authority() || url.encoded_host().empty()) {
        out.problem = "expected a store URL with a host";
        return out;
    }
    store_address a;
    a.redis = true;
    a.tls = scheme == "rediss";
    a.host = url.host_address();
    a.username = url.has_userinfo() ? std::string(url.user()) : std::string{};
    if (url.has_port()) {
        const auto port = parse_integer(url.port(), 1, 65535);
        if (!port) {
            out.problem = "expected a port from 1 to 65535 in the store URL";
            return out;
        }
        a.port = static_cast<std::uint16_t>(port.value);
    }
    auto path = std::string_view(url.encoded_path());
    if (!path.empty() && path != "/") {
        const auto db = parse_integer(path.substr(1), 0, 65535);
        if (!db || url.has_query() || url.has_fragment()) {
            out.problem = "expected a database number after the store URL's host, e.g. /0";
            return out;
        }
        a.db = static_cast<int>(db.value);
    }
    out.value = std::move(a);
    return out;
}

parsed<std::string> parse_origin(std::string_view text)
{
    parsed<std::string> out;
    const auto parsed_url = boost::urls::parse_absolute_uri(text);
    if (!parsed_url) {
        out.problem = bad_origin(text);
        return out;
    }
    const auto& url = *parsed_url;
    const auto id = url.scheme_id();
    const bool http = id == boost::urls::scheme::http;
    if ((!http && id != boost::urls::scheme::https) || !url.has_authority() ||
        url.encoded_host().empty() || url.has_userinfo() || url.has_query() ||
        (url.encoded_path() != "" && url.encoded_path() != "/")) {
        out.problem = bad_origin(text);
        return out;
    }
    std::string port;
    if (url.has_port()) {
        const auto number = parse_integer(url.port(), 1, 65535);
        if (!number) {
            out.problem = bad_origin(text);
            return out;
        }
        // Browsers leave the scheme's default port out of the Origin header (RFC 6454 6.1).
        if (number.value != (http ? 80u : 443u))
            port = ":" + std::to_string(number.value);
    }
    out.value = lowercase(url.scheme()) + "://" + lowercase(url.encoded_host()) + port;
    return out;
}

parsed<std::string> parse_host_name(std::string_view text)
{
    parsed<std::string> out;
    auto host = lowercase(text);
    const bool bracketed = host.starts_with('[') && host.ends_with(']');
    if ((bracketed && boost::urls::parse_ipv6_address(host.substr(1, host.size() - 2))) ||
        boost::urls::parse_ipv4_address(host)) {
        out.value = std::move(host);
        return out;
    }
    if (host.ends_with('.'))
        host.pop_back();
    // DNS names (RFC 1123 section 2.1): labels of letters, digits and hyphens, here also
    // underscores, which some internal names carry.
    constexpr std::size_t max_name = 253;
    constexpr std::size_t max_label = 63;
    std::size_t label = 0;
    bool valid = !host.empty() && host.size() <= max_name;
    for (const char c : host) {
        const bool name_char =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (c == '.' && label != 0)
            label = 0;
        else if (!name_char || ++label > max_label)
            valid = false;
    }
    if (!valid || label == 0) {
        out.problem = "expected a host name such as chat.example.com (no scheme, port or "
                      "path), got " +
                      quote(text);
        return out;
    }
    out.value = std::move(host);
    return out;
}

} // namespace tokenrelay::config::detail
