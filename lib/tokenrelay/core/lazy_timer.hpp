#pragma once
// A steady_timer made on first use. Most sessions and connections never wait on some of
// their timers (a generation's stop, a detached session's expiry, a reader held back),
// and an unused steady_timer still costs its 120 bytes (memory per session).
// Like the timer itself, it belongs to one loop: use it only on that loop's thread.

#include <tokenrelay/core/net.hpp>

#include <memory>

namespace tokenrelay {

class lazy_timer
{
public:
    /// The timer, made on `executor` the first time.
    net::steady_timer& get(const net::any_io_executor& executor)
    {
        if (!timer_)
            timer_ = std::make_unique<net::steady_timer>(executor);
        return *timer_;
    }

    /// Waits until cancel() (the timer never expires by itself): how a coroutine here
    /// sleeps until another part of its loop has news for it. Not a coroutine, so no
    /// frame of its own. Pass an executor that outlives the wait, not a temporary: a
    /// temporary in a co_await operand is kept in the caller's frame for its whole life.
    auto wait_until_cancelled(const net::any_io_executor& executor)
    {
        auto& timer = get(executor);
        timer.expires_at(net::steady_timer::time_point::max());
        return timer.async_wait(use_tuple);
    }

    /// Ends the pending waits, if the timer was ever made.
    void cancel()
    {
        if (timer_)
            timer_->cancel();
    }

    /// Ends the pending waits and frees the timer until the next get().
    void reset() noexcept { timer_.reset(); }

    bool made() const noexcept { return timer_ != nullptr; }

private:
    std::unique_ptr<net::steady_timer> timer_;
};

} // namespace tokenrelay
