#pragma once
// One accepted TCP connection (PROTOCOL.md section 1): HTTP/1.1 requests with keep-alive,
// until one of them upgrades to the WebSocket chat session.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/runtime/relay_state.hpp>

#include <chrono>

namespace tokenrelay::http_server {

/// Serves `socket` until it closes or upgrades. The first request must be complete by
/// `first_deadline` (the --header-timeout that started at accept); each later one gets
/// --header-timeout of its own.
awaitable<void> run_http_session(
    tcp::socket socket,
    runtime::relay_state& state,
    runtime::loop_context& loop,
    std::chrono::steady_clock::time_point first_deadline
);

} // namespace tokenrelay::http_server
