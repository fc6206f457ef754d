#pragma once
// Process-wide counters and histograms for GET /metrics (Prometheus text format 0.0.4).
// Updates are relaxed atomic increments: cheap enough for the per-token path.

#include <tokenrelay/core/error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace tokenrelay::metrics {

/// A histogram with fixed millisecond buckets.
class histogram
{
public:
    static constexpr std::array<double, 14> bounds_ms{
        1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

    void observe(double ms) noexcept;
    void render(std::string& out, std::string_view name, std::string_view help) const;

private:
    std::array<std::atomic<std::uint64_t>, bounds_ms.size() + 1> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_us_{0};
};

/// Why an append to the shared store failed: Redis answered with an error, or one of the
/// connection's failures (store/connection_error.hpp).
enum class store_error_kind { refused, down, timeout, lost, protocol, count };

struct relay_metrics
{
    std::atomic<std::uint64_t> tokens_relayed{0};
    std::atomic<std::uint64_t> token_bytes_relayed{0};
    std::atomic<std::uint64_t> frames_sent{0};
    std::atomic<std::uint64_t> bytes_sent{0};
    std::atomic<std::uint64_t> generations_started{0};
    std::atomic<std::uint64_t> upstream_retries{0};
    std::atomic<std::uint64_t> backpressure_pauses{0};
    std::atomic<std::uint64_t> rate_limit_refusals{0};
    std::atomic<std::uint64_t> upgrades_refused{0};
    std::array<std::atomic<std::uint64_t>, 16> errors_by_code{};
    // Upstream responses by status class: index 0 = connection failure, 1..5 = 1xx..5xx.
    std::array<std::atomic<std::uint64_t>, 6> upstream_responses{};
    std::atomic<std::uint64_t> prompt_tokens{0};
    std::atomic<std::uint64_t> completion_tokens{0};
    std::atomic<std::uint64_t> estimated_usage{0}; // generations whose usage the relay counted
    // Whole micro-dollars: there is no portable atomic add for double before C++20's
    // atomic<double>::fetch_add, which GCC 12 implements with a CAS loop anyway.
    std::atomic<std::uint64_t> cost_micro_usd{0};
    // Upstream connections the relay holds (in use and idle in the pools together), and
    // of those the idle ones. Each pool belongs to one event loop (connection_pool.hpp),
    // so the scrape, on any thread, reads these instead of the pools.
    std::atomic<std::int64_t> upstream_connections{0};
    std::atomic<std::int64_t> upstream_idle_connections{0};
    histogram ttft;
    histogram inter_token;
    // The shared session store (PROTOCOL.md section 8).
    std::atomic<std::uint64_t> store_appends{0};        // log entries sent
    std::atomic<std::uint64_t> store_append_batches{0}; // appends, one per session per round
    std::atomic<std::uint64_t> store_bytes{0};          // request bytes of those appends
    std::atomic<std::uint64_t> store_writes{0};         // socket writes to the store
    std::atomic<std::uint64_t> store_requests{0};       // requests those writes carried
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(store_error_kind::count)>
        store_errors{};                                 // failed appends, by store_error_kind
    std::atomic<std::int64_t> store_following{0};       // sessions following another's reply
    std::atomic<std::uint64_t> store_takeovers{0};      // replies ended for a vanished instance
    std::atomic<std::uint64_t> store_sessions_local{0}; // sessions that went on without it
    std::atomic<std::uint64_t> store_loads{0};          // sessions loaded from the store
    histogram store_latency;                            // an append's round trip

    void count_error(errc code) noexcept
    {
        const auto i = static_cast<std::size_t>(code);
        if (i < errors_by_code.size())
            errors_by_code[i].fetch_add(1, std::memory_order_relaxed);
    }
    void count_store_error(store_error_kind kind) noexcept
    {
        store_errors[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    }
    void add_cost_usd(std::uint64_t micro_usd) noexcept
    {
        cost_micro_usd.fetch_add(micro_usd, std::memory_order_relaxed);
    }
    /// `status` 0 for a connection or TLS failure.
    void count_upstream_response(int status) noexcept
    {
        const auto i = status <= 0 ? 0 : std::min(5, status / 100);
        upstream_responses[i].fetch_add(1, std::memory_order_relaxed);
    }
};

/// The process's metrics.
relay_metrics& global() noexcept;

/// Values read at scrape time from the relay's state.
struct gauges
{
    std::uint64_t open_connections = 0;
    std::uint64_t live_sessions = 0;     // attached to a connection
    std::uint64_t detached_sessions = 0; // waiting for a resume
    std::uint64_t running_generations = 0;
    std::uint64_t upstream_requests_in_flight = 0; // request slots held (request_slots.hpp)
    std::uint64_t sessions_created = 0;
    std::uint64_t sessions_resumed = 0;
    std::uint64_t sessions_taken_over = 0;
    std::uint64_t connections_too_slow = 0;
    std::uint64_t sessions_expired = 0;
    std::uint64_t sessions_evicted = 0; // ended early to keep a client within its bounds
    bool draining = false;
    /// With a shared store: whether it is up (section 8); nothing without one.
    std::optional<bool> store_up;
};

/// The exposition text: the counters of global(), the gauges, and the process's RSS and
/// open file descriptors read from /proc.
std::string render(const gauges& g);

} // namespace tokenrelay::metrics
