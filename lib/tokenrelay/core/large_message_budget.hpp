#pragma once
// The memory that WebSocket messages past the message limit may hold at once, all
// connections together. Only a chat's images take a message past that limit (PROTOCOL.md
// section 9), and a client could otherwise hold --max-image-bytes in every connection it
// opens by sending large messages slowly: the budget keeps what all of them hold to a
// few chats' worth. Shared by the loops' threads.

#include <atomic>
#include <cstddef>

namespace tokenrelay {

class large_message_budget
{
public:
    explicit large_message_budget(std::size_t capacity) noexcept : capacity_(capacity) {}

    /// Takes `bytes`; false (nothing taken) when that would pass the capacity.
    bool take(std::size_t bytes) noexcept
    {
        auto used = used_.load(std::memory_order_relaxed);
        do {
            if (bytes > capacity_ - used)
                return false;
        } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
        return true;
    }
    void give_back(std::size_t bytes) noexcept
    {
        used_.fetch_sub(bytes, std::memory_order_relaxed);
    }
    std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

private:
    const std::size_t capacity_;
    std::atomic<std::size_t> used_{0};
};

} // namespace tokenrelay
