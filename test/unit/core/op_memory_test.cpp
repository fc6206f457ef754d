// op_memory: blocks of one size class are reused, other classes and large requests are
// not mixed in, and what a thread keeps is bounded. Then the point of it: a
// steady exchange over a socket whose operations use with_op_memory allocates nothing,
// where the same exchange awaited through use_awaitable allocates every round.
#include <tokenrelay/core/op_memory.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <memory>
#include <support/counted_allocation.hpp>
#include <support/socket_pair.hpp>
#include <type_traits>
#include <vector>

namespace tokenrelay {
namespace {

BOOST_AUTO_TEST_CASE(a_freed_block_serves_the_next_request_of_its_class)
{
    const auto before = op_memory::cached_bytes();
    void* first = op_memory::allocate(100);
    op_memory::deallocate(first, 100);
    BOOST_TEST(op_memory::cached_bytes() == before + 128);
    const auto counted = test::allocations_so_far();
    void* again = op_memory::allocate(120); // same 128-byte class
    BOOST_TEST(again == first);
    BOOST_TEST(test::allocations_so_far() == counted);
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

using test::socket_pair;

// One round: near writes, far reads and writes it back, near reads the answer. The round is
// written out in the loop rather than called: a coroutine per round would allocate.
// Returns what was allocated over `rounds` rounds after some warm-up ones.
std::size_t allocations_in_steady_rounds(bool through_op_memory, int rounds)
{
    constexpr int warm_up = 20;
    net::io_context ioc{1};
    socket_pair p(ioc);
    std::size_t counted = 0;
    bool done = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            std::array<char, 64> out{};
            std::array<char, 64> in{};
            for (int i = 0; i < warm_up + rounds; ++i) {
                if (i == warm_up)
                    counted = test::allocations_so_far();
                if (through_op_memory) {
                    auto write_a =
                        with_op_memory(net::async_write(p.near, net::buffer(out), deferred_tuple));
                    co_await std::move(write_a);
                    auto read_b =
                        with_op_memory(net::async_read(p.far, net::buffer(in), deferred_tuple));
                    co_await std::move(read_b);
                    auto write_b =
                        with_op_memory(net::async_write(p.far, net::buffer(in), deferred_tuple));
                    co_await std::move(write_b);
                    auto read_a =
                        with_op_memory(net::async_read(p.near, net::buffer(out), deferred_tuple));
                    co_await std::move(read_a);
                } else {
                    co_await net::async_write(p.near, net::buffer(out), use_tuple);
                    co_await net::async_read(p.far, net::buffer(in), use_tuple);
                    co_await net::async_write(p.far, net::buffer(in), use_tuple);
                    co_await net::async_read(p.near, net::buffer(out), use_tuple);
                }
            }
            counted = test::allocations_so_far() - counted;
            done = true;
        },
        net::detached
    );
    ioc.run();
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

// The relay's shape, several times over on one loop: a reader hands what it
// reads to a channel without waiting, a pump receives it and writes the answer back.
// Counts allocations over `rounds` steady rounds of all chains.
std::size_t allocations_in_channel_rounds(int rounds)
{
    constexpr int warm_up = 20;
    constexpr std::size_t chains = 8;
    using hand_over = net::experimental::channel<void(error_code, std::size_t)>;
    net::io_context ioc{1};
    const auto loop = ioc.get_executor();
    struct chain
    {
        socket_pair sockets;
        hand_over handed;
        std::array<char, 64> at_a{}, at_b{};
        explicit chain(net::io_context& ioc) : sockets(ioc), handed(ioc, 1) {}
    };
    std::vector<std::unique_ptr<chain>> all;
    for (std::size_t i = 0; i < chains; ++i) {
        auto& c = *all.emplace_back(std::make_unique<chain>(ioc));
        net::co_spawn(
            ioc,
            [&c]() -> awaitable<void> {
                for (;;) {
                    auto read = with_op_memory(
                        net::async_read(c.sockets.far, net::buffer(c.at_b), deferred_tuple)
                    );
                    auto [ec, n] = co_await std::move(read);
                    if (ec || !c.handed.try_send(error_code{}, n))
                        co_return;
                }
            },
            net::detached
        );
        net::co_spawn(
            ioc,
            [&c, &loop]() -> awaitable<void> {
                for (;;) {
                    auto receive = with_op_memory(c.handed.async_receive(deferred_tuple), loop);
                    auto [ec, n] = co_await std::move(receive);
                    if (ec)
                        co_return;
                    auto write = with_op_memory(
                        net::async_write(c.sockets.far, net::buffer(c.at_b), deferred_tuple)
                    );
                    co_await std::move(write);
                }
            },
            net::detached
        );
    }
    std::size_t counted = 0;
    bool done = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int i = 0; i < warm_up + rounds; ++i) {
                if (i == warm_up)
                    counted = test::allocations_so_far();
                for (auto& c : all) {
                    auto write = with_op_memory(
                        net::async_write(c->sockets.near, net::buffer(c->at_a), deferred_tuple)
                    );
                    co_await std::move(write);
                }
                for (auto& c : all) {
                    auto read = with_op_memory(
                        net::async_read(c->sockets.near, net::buffer(c->at_a), deferred_tuple)
                    );
                    co_await std::move(read);
                }
            }
            counted = test::allocations_so_far() - counted;
            done = true;
            for (auto& c : all) {
                c->handed.close();
                c->sockets.near.close();
            }
        },
        net::detached
    );
    ioc.run();
    BOOST_TEST_REQUIRE(done);
    return counted;
}

BOOST_AUTO_TEST_CASE(channel_hand_over_bound_to_the_loop_allocates_nothing)
{
    BOOST_TEST(allocations_in_channel_rounds(200) == 0u);
}

// What with_op_memory hands an operation: a handler whose memory comes from op_memory
// and, given a loop, whose completion is posted to that io_context's own executor.
struct bindings_seen
{
    bool allocator = false;
    bool loop_executor = false;
};

template <class... Loop> bindings_seen bindings_of_with_op_memory(const Loop&... loop)
{
    net::io_context ioc{1};
    bindings_seen seen;
    bool done = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto op = net::async_initiate<const net::deferred_t, void(error_code)>(
                [&](auto handler) {
                    using handler_type = decltype(handler);
                    seen.allocator = std::
                        is_same_v<net::associated_allocator_t<handler_type>, op_allocator<void>>;
                    seen.loop_executor = std::is_same_v<
                        net::associated_executor_t<handler_type>,
                        net::io_context::executor_type>;
                    net::post(ioc, [h = std::move(handler)]() mutable {
                        std::move(h)(error_code{});
                    });
                },
                net::deferred
            );
            auto bound = with_op_memory(std::move(op), loop...);
            co_await std::move(bound);
            done = true;
        },
        net::detached
    );
    ioc.run();
    BOOST_TEST_REQUIRE(done);
    return seen;
}

BOOST_AUTO_TEST_CASE(the_operation_gets_op_memory_and_the_loop_when_given)
{
    const auto plain = bindings_of_with_op_memory();
    BOOST_TEST(plain.allocator);
    BOOST_TEST(!plain.loop_executor);

    net::io_context other;
    const auto on_loop = bindings_of_with_op_memory(other.get_executor());
    BOOST_TEST(on_loop.allocator);
    BOOST_TEST(on_loop.loop_executor);
}

} // namespace
} // namespace tokenrelay
