#include <tokenrelay/upstream/endpoint.hpp>

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace tokenrelay::upstream {
namespace {

endpoint_parse_result fail(std::string why)
{
    return {std::nullopt, std::move(why)};
}

} // namespace

std::string endpoint::host_header() const
{
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != (tls ? 443 : 80))
        out += ":" + std::to_string(port);
    return out;
}

std::string endpoint::authority() const
{
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool endpoint::host_is_ip() const
{
    return boost::urls::parse_ipv4_address(host).has_value() ||
           boost::urls::parse_ipv6_address(host).has_value();
}

endpoint_parse_result parse_endpoint(std::string_view url)
{
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed)
        return fail("not an absolute URL: " + std::string(url));
    const boost::urls::url_view& u = *parsed;

    endpoint ep;
    if (u.scheme_id() == boost::urls::scheme::https)
        ep.tls = true;
    else if (u.scheme_id() == boost::urls::scheme::http)
        ep.tls = false;
    else
        return fail("the scheme must be http or https: " + std::string(url));

    if (u.has_userinfo())
        return fail("credentials in the URL are not supported (use TOKENRELAY_API_KEY)");
    if (u.has_query() || u.has_fragment())
        return fail("the URL must not have a query or fragment: " + std::string(url));

    switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
        ep.host = u.host_ipv4_address().to_string();
        break;
    case boost::urls::host_type::ipv6:
        ep.host = u.host_ipv6_address().to_string();
        break;
    case boost::urls::host_type::name:
        ep.host = u.host_name();
        break;
    default:
        break;
    }
    if (ep.host.empty())
        return fail("the URL has no usable host: " + std::string(url));

    ep.port = ep.tls ? 443 : 80;
    if (u.has_port()) {
        const auto text = u.port();
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 ||
            value > 65535)
            return fail("bad port in " + std::string(url));
        ep.port = static_cast<std::uint16_t>(value);
    }

    std::string_view path = u.encoded_path();
    while (!path.empty() && path.back() == '/')
        path.remove_suffix(1);
    ep.base_path.assign(path);
    return {std::move(ep), {}};
}

} // namespace tokenrelay::upstream
