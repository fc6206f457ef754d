#pragma once
// The process-wide cap on concurrent upstream requests (--max-upstream-requests). Past it
// a chat is refused with `overloaded` (PROTOCOL.md section 2) instead of queueing: a
// queued request would hold a client's slot while the model API is already saturated.

#include <atomic>
#include <cstddef>
#include <utility>

namespace tokenrelay::upstream {

class request_slots
{
public:
    /// `limit` 0 means no cap.
    explicit request_slots(std::size_t limit) noexcept : limit_(limit) {}
    request_slots(const request_slots&) = delete;
    request_slots& operator=(const request_slots&) = delete;

    bool try_acquire() noexcept
    {
        auto n = in_use_.load(std::memory_order_relaxed);
        do {
            if (limit_ != 0 && n >= limit_)
                return false;
        } while (!in_use_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return true;
    }
    void release() noexcept { in_use_.fetch_sub(1, std::memory_order_relaxed); }

    std::size_t in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }
    std::size_t limit() const noexcept { return limit_; }

private:
    const std::size_t limit_;
    std::atomic<std::size_t> in_use_{0};
};

/// One held slot, released when destroyed; empty when the cap was reached.
class request_slot
{
public:
    request_slot() = default;
    explicit request_slot(request_slots& from) noexcept
        : from_(from.try_acquire() ? &from : nullptr)
    {}
    request_slot(request_slot&& o) noexcept : from_(std::exchange(o.from_, nullptr)) {}
    request_slot& operator=(request_slot&& o) noexcept
    {
        if (this != &o) {
            reset();
            from_ = std::exchange(o.from_, nullptr);
        }
        return *this;
    }
    ~request_slot() { reset(); }

    explicit operator bool() const noexcept { return from_ != nullptr; }
    void reset() noexcept
    {
        if (from_)
            std::exchange(from_, nullptr)->release();
    }

private:
    request_slots* from_ = nullptr;
};

} // namespace tokenrelay::upstream
