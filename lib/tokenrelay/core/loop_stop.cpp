#include <tokenrelay/core/loop_stop.hpp>

namespace tokenrelay {

loop_stop::loop_stop(loop_executor ex) : timer_(ex, std::chrono::steady_clock::time_point::max())
{}

awaitable<void> loop_stop::wait()
{
    while (!stopped_) {
        co_await timer_.async_wait(use_tuple);
        // Withdrawn by the race it is part of: the request ended first. Named, not awaited
        // in the condition: GCC 12 miscompiles that.
        const auto state = co_await net::this_coro::cancellation_state;
        if (is_cancelled(state))
            co_return;
    }
}

void loop_stop::stop()
{
    net::post(timer_.get_executor(), [this] {
        stopped_ = true;
        timer_.cancel();
    });
}

} // namespace tokenrelay
