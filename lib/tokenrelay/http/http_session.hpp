#pragma once
// One accepted TCP connection (PROTOCOL.md section 1): HTTP/1.1 requests with keep-alive,
// until one of them upgrades to the WebSocket chat session.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/ws/relay_state.hpp>

namespace tokenrelay::http_server {

awaitable<void>
run_http_session(tcp::socket socket, ws::relay_state& state, ws::loop_context& loop);

} // namespace tokenrelay::http_server
