#pragma once
// One accepted TCP connection (PROTOCOL.md section 1): HTTP/1.1 requests with keep-alive,
// until one of them upgrades to the WebSocket chat session.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/ws/relay_state.hpp>

#include <exception>

namespace tokenrelay::http_server {

awaitable<void>
run_http_session(tcp::socket socket, ws::relay_state& state, ws::loop_context& loop);

/// Completion handler for a connection's detached coroutine: one error line for an
/// exception, so one broken connection never takes the loop down.
void log_connection_failure(std::exception_ptr e);

} // namespace tokenrelay::http_server
