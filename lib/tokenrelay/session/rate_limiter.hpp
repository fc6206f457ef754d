#pragma once
// Token bucket for chat messages per minute (PROTOCOL.md section 7, --rate-limit).
// Sans-I/O: the caller passes the time.

#include <cstdint>
#include <optional>

namespace tokenrelay::session {

class rate_limiter
{
public:
    /// `per_minute` messages per minute with a burst of the same size; 0 disables.
    explicit rate_limiter(unsigned per_minute) : per_minute_(per_minute), tokens_(per_minute) {}

    /// Takes one message at `now_ms`. Returns nullopt when allowed, otherwise the
    /// milliseconds until one message will be allowed.
    std::optional<std::int64_t> try_take(std::int64_t now_ms);
    /// Gives back a message taken for a chat that was refused after all.
    void give_back() noexcept;
    /// Whether the bucket is full again at `now_ms`, as if nothing had been taken.
    bool full_at(std::int64_t now_ms) const noexcept;

private:
    unsigned per_minute_;
    double tokens_;
    std::int64_t last_ms_ = -1;
};

} // namespace tokenrelay::session
