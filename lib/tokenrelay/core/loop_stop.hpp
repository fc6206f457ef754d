#pragma once
// The drain's deadline on one event loop (PROTOCOL.md section 2): every completion
// request on the loop waits on this one timer, and the drain ends them all by cancelling
// it on the loop's own thread. A timer keeps any number of waits, and the race that
// awaits one (`||`) withdraws its wait alone when the request ends first.

#include <tokenrelay/core/net.hpp>

#include <chrono>

namespace tokenrelay {

class loop_stop
{
public:
    explicit loop_stop(loop_executor ex);

    /// On the loop: completes once stop() has run here, at once if it already has.
    awaitable<void> wait();
    /// From any thread: ends every wait on the loop, and every later one at once.
    void stop();

private:
    net::basic_waitable_timer<
        std::chrono::steady_clock,
        net::wait_traits<std::chrono::steady_clock>,
        loop_executor>
        timer_;
    bool stopped_ = false; // only touched on the loop
};

} // namespace tokenrelay
