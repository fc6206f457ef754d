#include <tokenrelay/core/op_memory.hpp>

#include <array>

namespace tokenrelay::op_memory {
namespace {

constexpr std::size_t class_count = largest_class / granularity;

struct free_block
{
    free_block* next;
};

/// One thread's free lists. A block may be freed on another thread than the one that
/// took it: it then joins that thread's lists, which is as good a home as any.
struct thread_cache
{
    std::array<free_block*, class_count> heads{};
    std::size_t bytes = 0;

    ~thread_cache()
    {
        for (auto*& head : heads) {
            while (head != nullptr)
                ::operator delete(std::exchange(head, head->next));
        }
    }
};

// Trivially destructible, so it can be read while and after the cache is destroyed at
// thread exit: blocks freed after that go straight back to operator delete.
thread_local bool cache_gone = false;

struct cache_holder
{
    thread_cache cache;
    ~cache_holder() { cache_gone = true; }
};

thread_cache* local_cache() noexcept
{
    if (cache_gone)
        return nullptr;
    thread_local cache_holder holder;
    return &holder.cache;
}

/// Index of the class that holds `bytes`, or class_count when it is too large.
std::size_t class_of(std::size_t bytes) noexcept
{
    if (bytes == 0 || bytes > largest_class)
        return class_count;
    return (bytes - 1) / granularity;
}

std::size_t class_bytes(std::size_t index) noexcept
{
    return (index + 1) * granularity;
}

} // namespace

void* allocate(std::size_t bytes)
{
    const auto index = class_of(bytes);
    if (index == class_count)
        return ::operator new(bytes);
    if (auto* cache = local_cache()) {
        if (auto* block = cache->heads[index]) {
            cache->heads[index] = block->next;
            cache->bytes -= class_bytes(index);
            return block;
        }
    }
    return ::operator new(class_bytes(index));
}

void deallocate(void* block, std::size_t bytes) noexcept
{
    if (block == nullptr)
        return;
    const auto index = class_of(bytes);
    auto* cache = index == class_count ? nullptr : local_cache();
    if (cache == nullptr || cache->bytes + class_bytes(index) > cached_bytes_limit) {
        ::operator delete(block);
        return;
    }
    auto* freed = ::new (block) free_block{cache->heads[index]};
    cache->heads[index] = freed;
    cache->bytes += class_bytes(index);
}

std::size_t cached_bytes() noexcept
{
    const auto* cache = local_cache();
    return cache == nullptr ? 0 : cache->bytes;
}

} // namespace tokenrelay::op_memory
