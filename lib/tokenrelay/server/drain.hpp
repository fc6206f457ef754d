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

/// One event loop whose pending handlers can be destroyed before its services are.
class event_loop : public net::io_context
{
public:
    using net::io_context::io_context;
    /// Destroys every handler still queued or waiting on this loop (Asio's
    /// execution_context::shutdown); the loop's services stay until it is destroyed.
    using net::execution_context::shutdown;
};

/// The event loops, one per thread, and what each owns, all in the same order: the
/// model source whose connections live on it and the listener it accepts on.
struct loop_set
{
    std::vector<std::unique_ptr<event_loop>> contexts;
    std::vector<std::unique_ptr<upstream::model_source>> sources;
    std::vector<std::unique_ptr<runtime::loop_context>> loops;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;

    void stop_all();
    /// At exit, after the loops stopped: destroys the pending handlers of every loop
    /// before any loop is destroyed. A handler on one loop may hold the last reference to
    /// something with a timer or socket on another (a connection, and the session it
    /// joined from another loop); released while a loop is being destroyed, it would
    /// reach into a loop already gone.
    void shut_down();
};

/// Waits for the first signal on `signals`, then drains. Runs on the first loop.
awaitable<void>
drain_on_signal(net::signal_set& signals, runtime::relay_state& state, loop_set& loops);

} // namespace tokenrelay::server
