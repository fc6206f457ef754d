#pragma once
// A small HTTP/1.1 client for the relay's HTTP doors and the mock's control endpoints.
// Every call has a deadline; one connection per call.

#include <tokenrelay/core/net.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenrelay::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_result
{
    unsigned status = 0;
    http::fields headers;
    std::string body;

    /// The header's value, or "" when absent (case-insensitive name).
    std::string header(std::string_view name) const;
};

struct http_options
{
    /// HTTPS when set (the context decides verification).
    ssl::context* tls = nullptr;
    std::chrono::milliseconds timeout{10000}; // scaled for the build (time_scale.hpp)
};

http_result http_request(
    std::uint16_t port,
    http::verb method,
    std::string_view target,
    const header_list& headers = {},
    std::string body = {},
    const http_options& options = {}
);

inline http_result http_get(
    std::uint16_t port,
    std::string_view target,
    const header_list& headers = {},
    const http_options& options = {}
)
{
    return http_request(port, http::verb::get, target, headers, {}, options);
}

/// Writes `raw` verbatim (for malformed requests) while reading the response, so a server
/// that answers before taking the whole request (400, 413) is still heard. The timeout is
/// scaled for the build (time_scale.hpp).
http_result http_raw(
    std::uint16_t port,
    std::string raw,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)
);

/// What one connection answered to requests written all at once: pipelined requests, or
/// a request with another one smuggled into what should have been its body.
struct raw_exchange
{
    std::vector<http_result> responses; // in order; parsing stops at the first bad one
    std::string rest;    // bytes after those answers: an extra answer, or a HEAD's body
    bool closed = false; // the peer closed the connection after them
};

/// Writes `raw` verbatim and reads one answer per entry of `methods`, taken as the method
/// of the request it answers (an answer to HEAD has no body, whatever its Content-Length
/// says). Then waits up to `linger` for the peer to close, keeping what else arrives in
/// `rest`. Both waits are scaled for the build (time_scale.hpp).
raw_exchange http_raw_exchange(
    std::uint16_t port,
    std::string raw,
    std::vector<http::verb> methods,
    std::chrono::milliseconds linger = std::chrono::milliseconds(2000),
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)
);

/// Polls /readyz until it answers 503; false when it still says 200 at the deadline
/// (`within`, scaled for the build).
/// (Readiness is only observable by asking, and a drain signal is handled asynchronously.)
bool becomes_unready(std::uint16_t port, std::chrono::milliseconds within);

} // namespace tokenrelay::test
