#pragma once
// The drain (PROTOCOL.md section 2): on SIGTERM/SIGINT stop taking sessions and
// completion requests, let running generations and completions finish within
// --drain-timeout, end the rest (reason "shutdown"), close every connection with 1001,
// close the listeners, then stop the loops. A second signal stops at once.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/runtime/relay_state.hpp>

#include <memory>
#include <vector>

namespace tokenrelay::server {

/// The event loops, one per thread, and what each owns, all in the same order: the
/// model source whose connections live on it and the listener it accepts on.
struct loop_set
{
    std::vector<std::unique_ptr<net::io_context>> contexts;
    std::vector<std::unique_ptr<upstream::model_source>> sources;
    std::vector<std::unique_ptr<runtime::loop_context>> loops;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;

    void stop_all();
};

/// Waits for the first signal on `signals`, then drains. Runs on the first loop.
awaitable<void>
drain_on_signal(net::signal_set& signals, runtime::relay_state& state, loop_set& loops);

} // namespace tokenrelay::server
