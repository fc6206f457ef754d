#pragma once
// Memory for the asynchronous operations that run once per token: the upstream read, the
// hand-over from the upstream reader to the session, the writer's wait and the WebSocket
// write. Asio's own block cache is off (CMakeLists.txt says why), and glibc keeps only
// seven freed blocks of a size per thread: a loop that completes a few hundred of these
// operations in one pass sends most of them through malloc's slow path, and the
// per-token path is to be allocation-free in steady state.
//
// Blocks are rounded up to a size class and kept in free lists of the thread that frees
// them, up to a fixed number of bytes per thread, so an idle relay holds little of it.
// Only operations that finish within a token's time use it: a long-lived wait in a large
// cached block is the waste that made Asio's cache a poor fit.

#include <tokenrelay/core/net.hpp>

#include <cstddef>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace tokenrelay {

namespace op_memory {

/// Size classes are multiples of this; larger requests go to operator new.
inline constexpr std::size_t granularity = 64;
inline constexpr std::size_t largest_class = 2048;
/// What one thread keeps in its free lists at most.
inline constexpr std::size_t cached_bytes_limit = 256 * 1024;

void* allocate(std::size_t bytes);
void deallocate(void* block, std::size_t bytes) noexcept;

/// What the calling thread's free lists hold now (for tests and diagnostics).
std::size_t cached_bytes() noexcept;

} // namespace op_memory

/// An allocator over op_memory, for binding to a completion token.
template <class T> class op_allocator
{
public:
    using value_type = T;

    constexpr op_allocator() noexcept = default;
    template <class U> constexpr op_allocator(const op_allocator<U>&) noexcept {}

    T* allocate(std::size_t n)
    {
        static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
        return static_cast<T*>(op_memory::allocate(n * sizeof(T)));
    }

    void deallocate(T* p, std::size_t n) noexcept { op_memory::deallocate(p, n * sizeof(T)); }

    template <class U> constexpr bool operator==(const op_allocator<U>&) const noexcept
    {
        return true;
    }
};

/// A deferred operation whose memory comes from op_memory: what `co_await` on
/// `with_op_memory(op)` starts is `op` with op_allocator bound to its handler. (Binding
/// the allocator to the deferred token itself does not compile with Boost 1.81.)
template <class Op> class op_memory_operation
{
public:
    op_memory_operation(Op op, std::optional<loop_executor> loop)
        : op_(std::move(op)), loop_(std::move(loop))
    {}

    // Constrained through its return type: Asio probes what this can be called with.
    template <class Handler>
    auto operator()(Handler&& handler) && -> decltype(std::declval<Op&&>(
    )(net::bind_allocator(op_allocator<void>(), std::forward<Handler>(handler))))
    {
        auto bound = net::bind_allocator(op_allocator<void>(), std::forward<Handler>(handler));
        if (loop_)
            return std::move(op_)(net::bind_executor(*loop_, std::move(bound)));
        return std::move(op_)(std::move(bound));
    }

private:
    Op op_;
    std::optional<loop_executor> loop_;
};

template <class Op> op_memory_operation<std::decay_t<Op>> with_op_memory(Op&& op)
{
    return {std::forward<Op>(op), std::nullopt};
}

/// For an operation that completes by posting to its handler's executor, as a channel's
/// receive does. Posted through any_io_executor, the completion takes two blocks that no
/// bound allocator reaches; bound to the loop's own io_context executor, it takes one,
/// from op_memory.
template <class Op>
op_memory_operation<std::decay_t<Op>> with_op_memory(Op&& op, loop_executor loop)
{
    return {std::forward<Op>(op), std::move(loop)};
}

} // namespace tokenrelay
