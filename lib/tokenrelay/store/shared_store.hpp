#pragma once
// The shared session store of the process (PROTOCOL.md section 8): one loop_store per
// event loop, all naming the same Redis, and this instance's name in leases.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/store/loop_store.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace tokenrelay::store {

class shared_store
{
public:
    shared_store(redis_endpoint endpoint, store_timing timing);
    ~shared_store();

    /// Makes the loop_store of the loop that runs `executor`; before start().
    void add_loop(const net::io_context::executor_type& executor);
    /// The loop_store of the loop that runs `executor`.
    loop_store& at(const net::io_context::executor_type& executor);

    void start();
    /// Closes every connection; call on each loop's thread or after the loops stopped.
    void stop();

    /// Every loop's connections are up. Any thread.
    bool up() const noexcept { return loops_down_.load(std::memory_order_relaxed) == 0; }
    /// A random name for this process, held in the leases it takes.
    const std::string& instance() const noexcept { return instance_; }
    const store_timing& timing() const noexcept { return timing_; }

private:
    struct loop_entry
    {
        const net::io_context* context;
        std::unique_ptr<loop_store> store;
        bool up = false; // touched on the loop only
    };

    redis_endpoint endpoint_;
    store_timing timing_;
    std::string instance_;
    std::vector<loop_entry> loops_;
    std::atomic<int> loops_down_{0};
};

} // namespace tokenrelay::store
