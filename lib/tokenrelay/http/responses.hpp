#pragma once
// Plain HTTP answers: health, errors and static files (PROTOCOL.md section 1), and the one
// way every whole answer is written.

#include <tokenrelay/core/net.hpp>

#include <string>
#include <string_view>

namespace tokenrelay::http_server {

using response = http::response<http::string_body>;

/// A short plain-text answer, e.g. 404 "not found".
response
text_response(http::status status, std::string_view body, unsigned version, bool keep_alive);

/// The file `target` names under `root`, 304 for a matching If-None-Match, or 404.
response
static_file_response(const std::string& root, const http::request<http::string_body>& request);

/// Writes `res`; in answer to HEAD only its header (RFC 9110 section 9.3.2: the header GET
/// would get, Content-Length included, and no body), or the client would read the body as
/// the start of the next answer. False when the write failed.
awaitable<bool> write_response(beast::tcp_stream& stream, response res, bool head);

} // namespace tokenrelay::http_server
