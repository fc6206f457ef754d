#pragma once
// When a quiet WebSocket connection needs attention (PROTOCOL.md section 5), sans-I/O:
// a connection that has written nothing for --ping-interval is pinged; a client silent for
// half of --idle-timeout is pinged once, and dropped at the timeout's end if it still says
// nothing. The connection reports its reads and writes and holds one timer wait until
// next_deadline(); due() then says what to do. Times are given, never read from a clock.

#include <chrono>

namespace tokenrelay::ws {

struct keepalive_config
{
    std::chrono::steady_clock::duration ping_interval;
    std::chrono::steady_clock::duration idle_timeout;
};

enum class keepalive_action {
    none, ///< the deadline moved (a read, a write) since the wait began: wait again
    ping,
    drop, ///< close the TCP connection, with no close frame
};

class keepalive_policy
{
public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit keepalive_policy(time_point now = {}) noexcept : last_read_(now), last_write_(now) {}

    /// Bytes came from the client (any frame, control frames too).
    void on_read(time_point now) noexcept
    {
        last_read_ = now;
        pinged_since_read_ = false;
    }
    /// A frame started going out (a ping too).
    void on_write(time_point now) noexcept { last_write_ = now; }
    /// A keep-alive ping started going out.
    void on_ping(time_point now) noexcept
    {
        last_write_ = now;
        pinged_since_read_ = true;
    }

    time_point last_write() const noexcept { return last_write_; }

    /// The earliest time at which due() may say something other than none.
    time_point next_deadline(const keepalive_config& config) const noexcept;
    /// What to do at `now`.
    keepalive_action due(const keepalive_config& config, time_point now) const noexcept;

private:
    time_point last_read_;
    time_point last_write_;
    bool pinged_since_read_ = false;
};

} // namespace tokenrelay::ws
