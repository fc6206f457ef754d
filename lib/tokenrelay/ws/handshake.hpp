#pragma once
// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checks an
// upgrade request and writes the answer, 101 Switching Protocols or the reason it is not.

#include <tokenrelay/core/net.hpp>

#include <string>
#include <string_view>

namespace tokenrelay::ws {

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (section 4.2.2, step 5.4).
std::string accept_key(std::string_view client_key);

struct handshake_answer
{
    bool accepted = false;
    std::string bytes; ///< the whole HTTP response, ready to write
};

/// The answer to `request`, already known to ask for an upgrade: 101 with the accept key;
/// 426 naming version 13 for another protocol version; 400 for anything else malformed.
handshake_answer answer_upgrade(const http::request<http::string_body>& request);

} // namespace tokenrelay::ws
