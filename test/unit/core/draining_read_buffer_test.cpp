// draining_read_buffer: a read that the kernel says left nothing makes the next read wait
// for the socket instead of trying first. Whatever arrives afterwards must still be read,
// and neither bytes left over nor a FIN already in may be taken for nothing left, or they
// would wait for a readiness event that never comes. Each case runs with the kernel's
// hint and without it (reads then behave as Asio's own).
#include <tokenrelay/core/draining_read_buffer.hpp>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <string>
#include <support/socket_pair.hpp>
#include <vector>

namespace tokenrelay {
namespace {

using namespace std::chrono_literals;
using test::socket_pair;

constexpr std::size_t read_size = 4096;

std::string pattern(std::size_t n, std::size_t seed)
{
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (seed + i) % 26);
    return s;
}

// Reads `n` bytes through draining_read_buffer, appending them to `got`.
awaitable<void> read_exactly(tcp::socket& s, std::size_t n, std::string& got)
{
    std::array<char, read_size> buf;
    const auto want = got.size() + n;
    while (got.size() < want) {
        const auto room = std::min(buf.size(), want - got.size() + read_size);
        const auto k = co_await s.async_read_some(
            draining_read_buffer(net::buffer(buf.data(), room)), net::use_awaitable
        );
        got.append(buf.data(), k);
    }
}

// Chunk sizes around the read size: shorter (the socket is drained), equal and longer
// (it may not be).
const std::vector<std::size_t> sizes{1, 17, 100, 4095, 4096, 4097, 10000, 3, 65536, 2};

const std::vector<bool> hints{true, false};

void use_hint(tcp::socket& s, bool on)
{
    if (!on)
        return;
    error_code ec;
    report_unread_bytes(s, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
}

BOOST_AUTO_TEST_SUITE(draining_read_buffer_suite)

// The writer sends each chunk only once the reader has all of the previous one, so every
// chunk after a short read arrives while the next read waits without having tried.
BOOST_DATA_TEST_CASE(bytes_sent_after_a_drained_read_are_read, hints, with_hint)
{
    net::io_context ioc{1};
    socket_pair p(ioc);
    use_hint(p.near, with_hint);
    std::string sent;
    std::string got;
    bool done = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (int round = 0; round < 20; ++round) {
                for (std::size_t i = 0; i < sizes.size(); ++i) {
                    const auto chunk = pattern(sizes[i], sent.size());
                    sent += chunk;
                    co_await net::async_write(p.far, net::buffer(chunk), net::use_awaitable);
                    co_await read_exactly(p.near, chunk.size(), got);
                }
            }
            done = true;
        },
        net::detached
    );
    ioc.run_for(20s);
    BOOST_TEST(done, "a read waited for bytes already in the socket");
    BOOST_TEST(got == sent);
}

// Chunks sent back to back, read in whatever pieces they arrive in, then the end of the
// stream.
BOOST_DATA_TEST_CASE(a_stream_sent_at_once_is_read_whole_then_its_end, hints, with_hint)
{
    net::io_context ioc{1};
    socket_pair p(ioc);
    use_hint(p.near, with_hint);
    std::string sent;
    for (int round = 0; round < 20; ++round)
        for (auto n : sizes)
            sent += pattern(n, sent.size());
    std::string got;
    error_code end;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            co_await net::async_write(p.far, net::buffer(sent), net::use_awaitable);
            p.far.shutdown(tcp::socket::shutdown_send);
        },
        net::detached
    );
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            std::array<char, read_size> buf;
            for (;;) {
                auto [ec, k] = co_await p.near.async_read_some(
                    draining_read_buffer(net::buffer(buf)), use_tuple
                );
                got.append(buf.data(), k);
                if (ec) {
                    end = ec;
                    co_return;
                }
            }
        },
        net::detached
    );
    ioc.run_for(20s);
    BOOST_TEST(end == net::error::eof);
    BOOST_TEST(got == sent);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay
