#include <tokenrelay/core/http_text.hpp>
#include <tokenrelay/http/admission.hpp>

#include <boost/beast/core/string.hpp>

namespace tokenrelay::http_server {
namespace {

namespace http = boost::beast::http;

/// RFC 9112 section 6.1: the codings of every Transfer-Encoding line, in order; chunked
/// only last, and only once. Beast takes a body as chunked when the last coding is, reads
/// none when it is not, and leaves other codings to the application, which has none.
std::optional<refusal> check_transfer_coding(const http::request_header<>& header)
{
    bool chunked_last = false;
    bool other = false;
    const auto [first, last] = header.equal_range(http::field::transfer_encoding);
    for (auto field = first; field != last; ++field) {
        std::string_view rest = field->value();
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const auto coding = trim_ows(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            if (coding.empty())
                continue; // an empty list element (RFC 9110 section 5.6.1)
            if (chunked_last)
                return refusal{http::status::bad_request, "chunked must be the final coding"};
            chunked_last = boost::beast::iequals(coding, "chunked");
            other = other || !chunked_last;
        }
    }
    if (!chunked_last)
        return refusal{http::status::bad_request, "the final transfer coding must be chunked"};
    if (other)
        return refusal{http::status::not_implemented, "only the chunked transfer coding"};
    return std::nullopt;
}

std::optional<refusal> check_framing(const http::request_header<>& header, bool obs_fold)
{
    if (obs_fold)
        return refusal{http::status::bad_request, "folded header lines are not accepted"};
    const auto hosts = header.count(http::field::host);
    if (hosts > 1)
        return refusal{http::status::bad_request, "more than one Host"};
    if (hosts == 0 && header.version() >= 11)
        return refusal{http::status::bad_request, "Host is required"};
    if (header.count(http::field::transfer_encoding) == 0)
        return std::nullopt;
    // RFC 9112 section 6.1: in HTTP/1.0 the framing is faulty, and with both, a proxy that
    // goes by Content-Length reads another body than Beast does.
    if (header.version() < 11)
        return refusal{http::status::bad_request, "Transfer-Encoding needs HTTP/1.1"};
    if (header.count(http::field::content_length) != 0)
        return refusal{http::status::bad_request, "Transfer-Encoding and Content-Length"};
    return check_transfer_coding(header);
}

} // namespace

std::optional<refusal>
admit_request(const http::request_header<>& header, bool obs_fold, const known_hosts& known)
{
    if (auto refused = check_framing(header, obs_fold))
        return refused;
    // Only HTTP/1.0 may leave Host out, and browsers, whose pages a rebinding attack
    // runs in, always send it.
    if (header.count(http::field::host) == 0)
        return std::nullopt;
    switch (check_host(header[http::field::host], known)) {
    case host_verdict::allowed:
        return std::nullopt;
    case host_verdict::malformed:
        return refusal{http::status::bad_request, "malformed Host"};
    case host_verdict::misdirected:
        break;
    }
    return refusal{
        http::status::misdirected_request,
        "this relay does not answer to that host name (the operator can allow it with "
        "--public-host)"};
}

} // namespace tokenrelay::http_server
