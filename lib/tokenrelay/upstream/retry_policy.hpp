#pragma once
// When to retry an upstream request and how long to wait (PROTOCOL.md section 6).
// Sans-I/O: the caller supplies the random number.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace tokenrelay::upstream {

struct retry_limits
{
    std::size_t max_retries = 4;             // 5 attempts in all
    std::chrono::milliseconds budget{15000}; // total waiting across retries
    std::chrono::milliseconds base{250};     // first backoff ceiling
    std::chrono::milliseconds cap{4000};     // one backoff at most (before Retry-After)
};

class retry_policy
{
public:
    explicit retry_policy(retry_limits limits = {}) : limits_(limits) {}

    /// Whether an HTTP status is worth retrying (429 and 5xx).
    static bool retryable_status(int status) noexcept;

    /// Parses a Retry-After value: delay-seconds or an HTTP-date relative to `now`.
    static std::optional<std::chrono::milliseconds>
    parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

    /// The wait before the next attempt after a retryable failure, or nullopt when the
    /// retries or the budget are spent. Exponential backoff with full jitter
    /// (`unit_random` in [0,1)); a Retry-After raises the wait to at least its value.
    /// Records the wait against the budget: a backoff is trimmed to what is left of it,
    /// but a Retry-After that does not fit is not cut short: that gives nullopt.
    std::optional<std::chrono::milliseconds>
    next_delay(double unit_random, std::optional<std::chrono::milliseconds> retry_after);

    std::size_t retries_done() const noexcept { return retries_; }

private:
    retry_limits limits_;
    std::size_t retries_ = 0;
    std::chrono::milliseconds waited_{0};
};

} // namespace tokenrelay::upstream
