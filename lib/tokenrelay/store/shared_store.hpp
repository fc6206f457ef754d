#pragma once
// The shared session store of the process (PROTOCOL.md section 8): one loop_store per
// event loop, all naming the same Redis, and this instance's name in leases.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/store/loop_store.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::store {

/// rediss://: TLS, with the certificates in `extra_ca_file` trusted beside the system's.
struct store_tls
{
    std::string extra_ca_file;
};

class shared_store
{
public:
    /// `endpoint.tls` stays empty: each loop makes its own context from `tls`.
    shared_store(redis_endpoint endpoint, std::optional<store_tls> tls, store_timing timing);
    ~shared_store();

    /// Makes the loop_store of the loop that runs `executor`; before start(). Throws
    /// std::runtime_error when the CA file cannot be loaded.
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
    std::optional<store_tls> tls_;
    store_timing timing_;
    std::string instance_;
    std::vector<loop_entry> loops_;
    std::atomic<int> loops_down_{0};
};

} // namespace tokenrelay::store
