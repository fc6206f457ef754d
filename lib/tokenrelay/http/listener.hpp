#pragma once
// Accepts connections on one port and hands each to an event loop, round robin.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/ws/relay_state.hpp>

#include <vector>

namespace tokenrelay::http_server {

/// Accepts until the acceptor is closed or the coroutine is cancelled; each socket is
/// created on, and served by, the next loop in `loops`.
awaitable<void> accept_loop(
    tcp::acceptor& acceptor,
    std::vector<net::io_context*> contexts,
    std::vector<ws::loop_context*> loops,
    ws::relay_state& state
);

} // namespace tokenrelay::http_server
