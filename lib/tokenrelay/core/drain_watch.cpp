#include <tokenrelay/core/drain_watch.hpp>

namespace tokenrelay {

void drain_watch::notify() noexcept
{
    if (!waiting_.load())
        return;
    std::lock_guard lock(mutex_);
    if (drain_loop_)
        net::post(*drain_loop_, [this] {
            if (timer_)
                timer_->cancel();
        });
}

awaitable<void> drain_watch::wait_until(std::function<bool()> done, clock::time_point deadline)
{
    auto ex = co_await net::this_coro::executor;
    net::steady_timer timer(ex);
    timer_ = &timer;
    {
        std::lock_guard lock(mutex_);
        drain_loop_ = ex;
    }
    // Armed before the first look, and sequentially consistent with the counters that
    // done() reads: work that ends after a look sees waiting_ and posts a cancel, which
    // runs only once the wait is pending and ends it at once.
    waiting_.store(true);
    while (!done() && clock::now() < deadline) {
        timer.expires_at(deadline);
        co_await timer.async_wait(use_tuple);
    }
    waiting_.store(false);
    // A cancel posted meanwhile may still run: it finds no timer.
    timer_ = nullptr;
}

drain_watch::completion_guard::completion_guard(drain_watch& w) noexcept : watch_(w)
{
    // Sequentially consistent with the drain flag that the request reads next and the
    // drain sets before it counts: a request either sees the flag or is waited for.
    watch_.completions_.fetch_add(1);
}

drain_watch::completion_guard::~completion_guard()
{
    watch_.completions_.fetch_sub(1);
    watch_.notify();
}

std::size_t drain_watch::completions_running() const noexcept
{
    return completions_.load();
}

} // namespace tokenrelay
