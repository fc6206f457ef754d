#pragma once
// The checks every request's header passes before it is routed (PROTOCOL.md sections 1
// and 7): framing that two parsers could read differently is refused (RFC 9112 sections
// 6.1 and 6.3, request smuggling), and so is a Host that does not name the relay (DNS
// rebinding). Sans-I/O: a parsed header in, a refusal or nothing out.

#include <tokenrelay/http/host_check.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include <optional>
#include <string_view>

namespace tokenrelay::http_server {

/// An answer that ends the connection: whatever follows the refused header is not read.
struct refusal
{
    boost::beast::http::status status;
    std::string_view reason; // the plain-text body
};

/// Refused with 400: a Transfer-Encoding whose final coding is not chunked, or in an
/// HTTP/1.0 request; Transfer-Encoding together with Content-Length; a folded field line
/// (`obs_fold`, from header_scan); no Host in HTTP/1.1, more than one, or a malformed one.
/// With 501: a transfer coding other than chunked. With 421: a Host that check_host()
/// does not allow, naming neither an address of the relay nor one of `known`.
std::optional<refusal> admit_request(
    const boost::beast::http::request_header<>& header, bool obs_fold, const known_hosts& known
);

} // namespace tokenrelay::http_server
