#pragma once
// What the drain (PROTOCOL.md section 2, shutdown) waits for, and how it learns that the
// wait is over without polling: whatever ends work the drain waits for (a reply, a
// completion request, a connection, a listener) calls notify(), from any loop; while the
// drain waits, that wakes it on its own loop to look again.

#include <tokenrelay/core/net.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>

namespace tokenrelay {

class drain_watch
{
public:
    using clock = std::chrono::steady_clock;

    /// From any thread. Costs one atomic load while no drain waits.
    void notify() noexcept;

    /// On the drain's loop: returns once `done()` holds or `deadline` has passed, looking
    /// again at every notify(). One wait at a time.
    awaitable<void> wait_until(std::function<bool()> done, clock::time_point deadline);

    /// Completion requests being answered: a completion has no session for the drain to
    /// find through the registry.
    class completion_guard
    {
    public:
        explicit completion_guard(drain_watch& w) noexcept;
        ~completion_guard();
        completion_guard(const completion_guard&) = delete;
        completion_guard& operator=(const completion_guard&) = delete;

    private:
        drain_watch& watch_;
    };
    std::size_t completions_running() const noexcept;

private:
    std::atomic<bool> waiting_{false};
    std::mutex mutex_; // guards drain_loop_, which notify() reads on other threads
    std::optional<net::any_io_executor> drain_loop_;
    net::steady_timer* timer_ = nullptr; // only touched on the drain's loop
    std::atomic<std::size_t> completions_{0};
};

} // namespace tokenrelay
