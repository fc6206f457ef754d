#pragma once
// One listening socket per event loop, all bound to the same port with SO_REUSEPORT: the
// kernel spreads new connections over the loops, and each loop accepts its own, so a busy
// loop never holds up accepting for the others (connects under load).

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/runtime/relay_state.hpp>

#include <memory>
#include <vector>

namespace tokenrelay::http_server {

/// Opens one acceptor per context on `ep` (port 0: the first one picks the port and the
/// others share it). Throws std::runtime_error naming --listen when it cannot listen.
std::vector<std::unique_ptr<tcp::acceptor>>
open_acceptors(const std::vector<net::io_context*>& contexts, const tcp::endpoint& ep);

/// Accepts on `acceptor` until it is closed; each socket is served on the acceptor's own
/// loop.
awaitable<void>
accept_loop(tcp::acceptor& acceptor, runtime::loop_context& loop, runtime::relay_state& state);

} // namespace tokenrelay::http_server
