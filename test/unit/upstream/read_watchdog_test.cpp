// The upstream read deadline (PROTOCOL.md section 6: --token-timeout between tokens):
// the watchdog cuts a read once the deadline has passed, never before it, follows a
// deadline that moved on, watches again when one moves on after it fired, and cuts
// nothing once it is gone.
#include <tokenrelay/upstream/read_watchdog.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <support/socket_pair.hpp>

namespace tokenrelay::upstream {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

using test::socket_pair;

struct read_outcome
{
    error_code ec;
    std::size_t bytes = 0;
    char byte = 0;
    clock::time_point at;
};

/// Starts a one-byte read on `s`; `r` holds how and when it ended.
void read_one_byte(tcp::socket& s, read_outcome& r)
{
    s.async_read_some(net::buffer(&r.byte, 1), [&r](error_code ec, std::size_t n) {
        r.ec = ec;
        r.bytes = n;
        r.at = clock::now();
    });
}

/// The watchdog cut the read, and not before `deadline`.
void check_cut(const read_outcome& r, const read_watchdog& watchdog, clock::time_point deadline)
{
    BOOST_TEST(r.ec == net::error::operation_aborted);
    BOOST_TEST(watchdog.fired());
    BOOST_TEST((r.at >= deadline), "cut before the deadline");
}

BOOST_AUTO_TEST_CASE(cuts_a_silent_read_once_the_deadline_has_passed)
{
    net::io_context ioc;
    socket_pair sockets(ioc);
    const auto start = clock::now();
    const auto deadline = start + 80ms;
    read_watchdog watchdog(sockets.near, deadline);
    read_outcome r;
    read_one_byte(sockets.near, r);
    ioc.run_for(10s);
    check_cut(r, watchdog, deadline);
}

BOOST_AUTO_TEST_CASE(follows_a_deadline_that_moved_on)
{
    net::io_context ioc;
    socket_pair sockets(ioc);
    auto deadline = clock::now() + 50ms;
    read_watchdog watchdog(sockets.near, deadline);
    // A token arrives before the first deadline and moves it on, as the reader does.
    net::steady_timer token(ioc, 20ms);
    token.async_wait([&](error_code) { deadline = clock::now() + 150ms; });
    read_outcome r;
    read_one_byte(sockets.near, r);
    ioc.run_for(10s);
    check_cut(r, watchdog, deadline);
}

BOOST_AUTO_TEST_CASE(a_deadline_moved_earlier_is_taken_in)
{
    // As after the first token: from a long first-token deadline to a short token one.
    net::io_context ioc;
    socket_pair sockets(ioc);
    auto deadline = clock::now() + 60s;
    read_watchdog watchdog(sockets.near, deadline);
    net::steady_timer token(ioc, 20ms);
    token.async_wait([&](error_code) {
        deadline = clock::now() + 50ms;
        watchdog.deadline_moved();
    });
    read_outcome r;
    read_one_byte(sockets.near, r);
    // Far short of the first deadline: without the move the read would still be pending.
    ioc.run_for(5s);
    check_cut(r, watchdog, deadline);
}

BOOST_AUTO_TEST_CASE(watches_again_after_firing_while_no_read_waited)
{
    // As when the reader waits for room to send a token for longer than the deadline:
    // the watchdog fires with nothing to cut, then the next token moves the deadline on.
    net::io_context ioc;
    socket_pair sockets(ioc);
    auto deadline = clock::now() + 20ms;
    read_watchdog watchdog(sockets.near, deadline);
    while (!watchdog.fired() && ioc.run_one_for(10s) > 0)
        ;
    BOOST_TEST_REQUIRE(watchdog.fired());
    ioc.restart(); // it ran out of work when the watchdog fired
    deadline = clock::now() + 50ms;
    watchdog.deadline_moved();
    BOOST_TEST(!watchdog.fired(), "a moved deadline has not passed yet");
    read_outcome r;
    read_one_byte(sockets.near, r);
    // Without watching again the read would wait for ever: run_for ends at 5 s.
    ioc.run_for(5s);
    check_cut(r, watchdog, deadline);
}

BOOST_AUTO_TEST_CASE(reads_that_finish_in_time_are_left_alone)
{
    net::io_context ioc;
    socket_pair sockets(ioc);
    const auto deadline = clock::now() + 60s;
    read_watchdog watchdog(sockets.near, deadline);
    read_outcome r;
    read_one_byte(sockets.near, r);
    net::write(sockets.far, net::buffer("x", 1));
    // Until the read ends: the watchdog's own wait would keep run() going for a minute.
    while (r.at == clock::time_point{} && ioc.run_one_for(10s) > 0)
        ;
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.bytes == 1u);
    BOOST_TEST(r.byte == 'x');
    BOOST_TEST(!watchdog.fired());
}

BOOST_AUTO_TEST_CASE(a_watchdog_that_is_gone_cuts_nothing)
{
    net::io_context ioc;
    socket_pair sockets(ioc);
    const auto deadline = clock::now() + 30ms;
    std::optional<read_watchdog> watchdog(std::in_place, sockets.near, deadline);
    watchdog.reset();
    // The peer answers well after the old deadline: the read must still get its byte.
    net::steady_timer late(ioc, 120ms);
    late.async_wait([&](error_code) { net::write(sockets.far, net::buffer("y", 1)); });
    read_outcome r;
    read_one_byte(sockets.near, r);
    ioc.run_for(10s);
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.byte == 'y');
    BOOST_TEST((r.at >= deadline));
}

} // namespace
} // namespace tokenrelay::upstream
