// op_memory: blocks of one size class are reused, other classes and large requests are
// not mixed in, and what a thread keeps is bounded. Then the point of it (issue 7): a
// steady exchange over a socket whose operations use with_op_memory allocates nothing,
// where the same exchange awaited through use_awaitable allocates every round.
#include <tokenrelay/core/op_memory.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <cstdlib>
#include <malloc.h>
#include <new>
#include <vector>

// Every allocation in this test binary is counted: operator new for what the code here
// allocates, aligned_alloc for what Asio allocates for its operations.
namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t n)
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n)
{
    return ::operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept
{
    return ::operator new(n, t);
}
void operator delete(void* p) noexcept
{
    std::free(p);
}
void operator delete[](void* p) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}

extern "C" void* aligned_alloc(std::size_t align, std::size_t n) noexcept
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    return memalign(align, n);
}

namespace tokenrelay {
namespace {

BOOST_AUTO_TEST_CASE(a_freed_block_serves_the_next_request_of_its_class)
{
    const auto before = op_memory::cached_bytes();
    void* first = op_memory::allocate(100);
    op_memory::deallocate(first, 100);
    BOOST_TEST(op_memory::cached_bytes() == before + 128);
    const auto counted = allocations.load();
    void* again = op_memory::allocate(120); // same 128-byte class
    BOOST_TEST(again == first);
    BOOST_TEST(allocations.load() == counted);
    BOOST_TEST(op_memory::cached_bytes() == before);
    op_memory::deallocate(again, 120);
}

BOOST_AUTO_TEST_CASE(other_classes_and_large_requests_do_not_take_cached_blocks)
{
    void* small = op_memory::allocate(100);
    op_memory::deallocate(small, 100);
    void* larger = op_memory::allocate(200);
    BOOST_TEST(larger != small);

    const auto cached = op_memory::cached_bytes();
    void* large = op_memory::allocate(op_memory::largest_class + 1);
    BOOST_TEST(large != small);
    op_memory::deallocate(large, op_memory::largest_class + 1);
    BOOST_TEST(op_memory::cached_bytes() == cached); // not kept
    op_memory::deallocate(larger, 200);
}

BOOST_AUTO_TEST_CASE(a_thread_keeps_at_most_the_limit)
{
    const std::size_t size = op_memory::largest_class;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < op_memory::cached_bytes_limit / size + 16; ++i)
        blocks.push_back(op_memory::allocate(size));
    for (void* b : blocks)
        op_memory::deallocate(b, size);
    BOOST_TEST(op_memory::cached_bytes() <= op_memory::cached_bytes_limit);
    BOOST_TEST(op_memory::cached_bytes() > op_memory::cached_bytes_limit - size);
}

/// Two connected sockets on one loop, bouncing a message back and forth.
struct socket_pair
{
    net::io_context ioc{1};
    tcp::socket a{ioc};
    tcp::socket b{ioc};

    socket_pair()
    {
        tcp::acceptor acceptor(ioc, {net::ip::address_v4::loopback(), 0});
        a.connect(acceptor.local_endpoint());
        acceptor.accept(b);
    }
};

// One round: a writes, b reads and writes it back, a reads the answer. The round is
// written out in the loop rather than called: a coroutine per round would allocate.
// Returns what was allocated over `rounds` rounds after some warm-up ones.
std::size_t allocations_in_steady_rounds(bool through_op_memory, int rounds)
{
    constexpr int warm_up = 20;
    socket_pair p;
    std::size_t counted = 0;
    bool done = false;
    net::co_spawn(
        p.ioc,
        [&]() -> awaitable<void> {
            std::array<char, 64> out{};
            std::array<char, 64> in{};
            for (int i = 0; i < warm_up + rounds; ++i) {
                if (i == warm_up)
                    counted = allocations.load();
                if (through_op_memory) {
                    auto write_a =
                        with_op_memory(net::async_write(p.a, net::buffer(out), deferred_tuple));
                    co_await std::move(write_a);
                    auto read_b =
                        with_op_memory(net::async_read(p.b, net::buffer(in), deferred_tuple));
                    co_await std::move(read_b);
                    auto write_b =
                        with_op_memory(net::async_write(p.b, net::buffer(in), deferred_tuple));
                    co_await std::move(write_b);
                    auto read_a =
                        with_op_memory(net::async_read(p.a, net::buffer(out), deferred_tuple));
                    co_await std::move(read_a);
                } else {
                    co_await net::async_write(p.a, net::buffer(out), use_tuple);
                    co_await net::async_read(p.b, net::buffer(in), use_tuple);
                    co_await net::async_write(p.b, net::buffer(in), use_tuple);
                    co_await net::async_read(p.a, net::buffer(out), use_tuple);
                }
            }
            counted = allocations.load() - counted;
            done = true;
        },
        net::detached
    );
    p.ioc.run();
    BOOST_TEST_REQUIRE(done);
    return counted;
}

BOOST_AUTO_TEST_CASE(steady_exchange_through_op_memory_allocates_nothing)
{
    BOOST_TEST(allocations_in_steady_rounds(true, 200) == 0u);
}

BOOST_AUTO_TEST_CASE(the_same_exchange_through_use_awaitable_allocates_every_round)
{
    // The contrast shows that the counting sees what Asio allocates for operations.
    BOOST_TEST(allocations_in_steady_rounds(false, 200) >= 200u * 4);
}

} // namespace
} // namespace tokenrelay
