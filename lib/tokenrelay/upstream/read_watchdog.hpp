#pragma once
// A deadline for a stream of reads whose deadline moves on with every token. Beast's
// tcp_stream expiry arms and cancels a timer wait for each read, which is a timer-queue
// insert and removal per relayed token; this timer is armed once and only re-armed when
// it fires before the (since moved) deadline.

#include <tokenrelay/core/net.hpp>

#include <chrono>
#include <memory>

namespace tokenrelay::upstream {

class read_watchdog
{
public:
    using clock = std::chrono::steady_clock;

    /// Cancels the socket's pending operations once `deadline` has passed. `deadline`
    /// may be moved later at any time and is read when the timer fires; moved earlier,
    /// it needs a deadline_moved(). It must outlive the watchdog, the socket too.
    read_watchdog(tcp::socket& socket, const clock::time_point& deadline);
    /// Stops watching: nothing is cancelled after this, even by a wait already due.
    ~read_watchdog();
    read_watchdog(const read_watchdog&) = delete;
    read_watchdog& operator=(const read_watchdog&) = delete;

    /// Takes in a deadline that may have moved earlier than the timer is set for, or
    /// later after the watchdog fired, which watches again then.
    void deadline_moved();

    /// Whether the deadline passed and the socket's operations were cancelled, since
    /// the deadline last moved. A read started while this holds has no deadline left.
    bool fired() const noexcept;

private:
    struct state;
    static void arm(const std::shared_ptr<state>& s);

    // Shared with the pending wait, which may complete after the watchdog is gone.
    std::shared_ptr<state> state_;
};

} // namespace tokenrelay::upstream
