#pragma once
// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): whether an
// upgrade request is a valid handshake, and the 101 answer when it is. Refusals are
// written by the HTTP layer like its other refusals.

#include <tokenrelay/core/net.hpp>

#include <string>
#include <string_view>

namespace tokenrelay::ws {

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (section 4.2.2, step 5.4).
std::string accept_key(std::string_view client_key);

struct handshake_check
{
    /// switching_protocols for a valid handshake; else upgrade_required (another protocol
    /// version: the refusal names version 13) or bad_request.
    http::status status = http::status::switching_protocols;
    std::string_view reason; ///< why not (static text)
};

/// Checks `request`, already known to ask for an upgrade.
handshake_check check_handshake(const http::request<http::string_body>& request);

/// The 101 answer to a request that check_handshake accepted.
http::response<http::empty_body> switching_protocols(const http::request<http::string_body>& request
);

} // namespace tokenrelay::ws
