// Every stage of making an upstream connection is bounded (PROTOCOL.md section
// 6): the TCP connect and the TLS handshake share one deadline, min(now +
// --upstream-connect-timeout, the first-token deadline), and a peer that breaks the
// handshake off fails at once rather than at the deadline.
#include "loopback_server.hpp"
#include <tokenrelay/core/tls_client_context.hpp>
#include <tokenrelay/upstream/connection_pool.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace tokenrelay::upstream {
namespace {

using namespace test;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// What "at once" and "at the 300 ms timeout" are checked against: far below the 10 s
// connect timeouts and deadlines that would end the attempts otherwise, and far above
// what a slow or busy machine adds.
constexpr auto slow_machine_bound = 5s;

endpoint loopback(std::uint16_t port, bool tls)
{
    endpoint ep;
    ep.tls = tls;
    ep.host = "127.0.0.1";
    ep.port = port;
    ep.base_path = "/v1";
    return ep;
}

pool_options with_connect_timeout(std::chrono::milliseconds timeout)
{
    pool_options o;
    o.connect_timeout = timeout;
    return o;
}

/// A listening socket nobody accepts from: the kernel completes TCP handshakes into its
/// queue, and then nothing is ever read or written, as a server that hangs right after
/// accept would do.
tcp::acceptor silent_listener(net::io_context& ioc, int backlog)
{
    tcp::acceptor a(ioc);
    const tcp::endpoint at(net::ip::make_address("127.0.0.1"), 0);
    a.open(at.protocol());
    a.bind(at);
    a.listen(backlog);
    return a;
}

struct outcome
{
    connect_result result;
    clock::duration took{};
};

outcome connect_once(
    net::io_context& ioc, connection_pool& pool, clock::time_point not_after, int limit_s = 10
)
{
    outcome o;
    run_with_limit(
        ioc,
        [&]() -> awaitable<void> {
            const auto start = clock::now();
            o.result = co_await pool.connect(not_after);
            o.took = clock::now() - start;
        },
        std::chrono::seconds(limit_s)
    );
    return o;
}

const auto far_future = [] { return clock::now() + 1h; };

} // namespace

BOOST_AUTO_TEST_SUITE(connection_pool_deadlines)

BOOST_AUTO_TEST_CASE(tcp_connect_that_gets_no_answer_times_out_at_the_connect_timeout)
{
    net::io_context ioc;
    // Backlog 0 holds one finished handshake; with it taken by `filler`, Linux drops
    // further SYNs, so the pool's connect hangs as it would towards a black-holed host.
    auto listener = silent_listener(ioc, 0);
    const auto port = listener.local_endpoint().port();
    tcp::socket filler(ioc);
    filler.connect(listener.local_endpoint());

    connection_pool pool(
        ioc.get_executor(), loopback(port, false), nullptr, with_connect_timeout(300ms)
    );
    const auto o = connect_once(ioc, pool, far_future());
    BOOST_TEST(!o.result.conn);
    BOOST_TEST((o.result.ec == beast::error::timeout), o.result.ec.message());
    BOOST_TEST((o.result.stage == connect_stage::connect));
    BOOST_TEST((o.took >= 300ms), (o.took / 1ms) << " ms");
    BOOST_TEST((o.took < slow_machine_bound), (o.took / 1ms) << " ms");
}

BOOST_AUTO_TEST_CASE(
    tls_handshake_that_never_completes_times_out_at_the_connect_timeout,
    *boost::unit_test::timeout(30)
)
{
    net::io_context ioc;
    auto listener = silent_listener(ioc, 16);
    connection_pool pool(
        ioc.get_executor(),
        loopback(listener.local_endpoint().port(), true),
        make_client_tls_context(""),
        with_connect_timeout(300ms)
    );
    const auto o = connect_once(ioc, pool, far_future());
    BOOST_TEST(!o.result.conn);
    BOOST_TEST((o.result.ec == beast::error::timeout), o.result.ec.message());
    BOOST_TEST((o.result.stage == connect_stage::tls_handshake));
    BOOST_TEST((o.took >= 300ms), (o.took / 1ms) << " ms");
    BOOST_TEST((o.took < slow_machine_bound), (o.took / 1ms) << " ms");

    // The half-made connection was closed: the listener's queue holds it, at EOF.
    tcp::socket held(ioc);
    listener.accept(held);
    std::vector<char> hello(4096);
    error_code ec;
    std::size_t got = 0;
    while (!ec)
        got += held.read_some(net::buffer(hello.data() + got, hello.size() - got), ec);
    BOOST_TEST((ec == net::error::eof), ec.message());
    // What it had sent was a TLS handshake record (RFC 8446 section 5.1: type 22).
    BOOST_TEST_REQUIRE(got >= 1u);
    BOOST_TEST(static_cast<int>(hello[0]) == 22);
}

BOOST_AUTO_TEST_CASE(an_earlier_first_token_deadline_cuts_the_handshake_short)
{
    net::io_context ioc;
    auto listener = silent_listener(ioc, 16);
    connection_pool pool(
        ioc.get_executor(),
        loopback(listener.local_endpoint().port(), true),
        make_client_tls_context(""),
        with_connect_timeout(10s)
    );
    const auto o = connect_once(ioc, pool, clock::now() + 300ms);
    BOOST_TEST((o.result.ec == beast::error::timeout), o.result.ec.message());
    BOOST_TEST((o.result.stage == connect_stage::tls_handshake));
    BOOST_TEST((o.took >= 250ms), (o.took / 1ms) << " ms");
    BOOST_TEST((o.took < slow_machine_bound), (o.took / 1ms) << " ms");
}

BOOST_AUTO_TEST_CASE(a_peer_that_hangs_up_during_the_handshake_fails_at_once)
{
    net::io_context ioc;
    tcp::acceptor listener(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    // Takes the ClientHello, then closes without a word.
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto [ec, s] = co_await listener.async_accept(use_tuple);
            if (ec)
                co_return;
            char buf[512];
            co_await s.async_read_some(net::buffer(buf), use_tuple);
            s.close();
        },
        net::detached
    );
    connection_pool pool(
        ioc.get_executor(),
        loopback(listener.local_endpoint().port(), true),
        make_client_tls_context(""),
        with_connect_timeout(10s)
    );
    const auto o = connect_once(ioc, pool, far_future());
    BOOST_TEST(!o.result.conn);
    BOOST_TEST(!!o.result.ec);
    BOOST_TEST((o.result.ec != beast::error::timeout), o.result.ec.message());
    BOOST_TEST((o.result.stage == connect_stage::tls_handshake));
    BOOST_TEST((o.took < slow_machine_bound), (o.took / 1ms) << " ms");
}

BOOST_AUTO_TEST_CASE(a_plain_http_answer_to_the_client_hello_fails_the_handshake)
{
    net::io_context ioc;
    tcp::acceptor listener(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    // What a plain HTTP server on an https:// URL does with a ClientHello.
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto [ec, s] = co_await listener.async_accept(use_tuple);
            if (ec)
                co_return;
            char buf[512];
            co_await s.async_read_some(net::buffer(buf), use_tuple);
            const std::string answer =
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            co_await net::async_write(s, net::buffer(answer), use_tuple);
            // Kept open: the client must give up on the bytes alone, not on EOF.
            net::steady_timer hold(s.get_executor(), 5s);
            co_await hold.async_wait(use_tuple);
        },
        net::detached
    );
    connection_pool pool(
        ioc.get_executor(),
        loopback(listener.local_endpoint().port(), true),
        make_client_tls_context(""),
        with_connect_timeout(10s)
    );
    const auto o = connect_once(ioc, pool, far_future());
    BOOST_TEST(!o.result.conn);
    BOOST_TEST((o.result.ec.category() == net::error::get_ssl_category()), o.result.ec.message());
    BOOST_TEST((o.result.stage == connect_stage::tls_handshake));
    BOOST_TEST((o.took < slow_machine_bound), (o.took / 1ms) << " ms");
}

BOOST_AUTO_TEST_CASE(cancellation_ends_a_stalled_handshake_at_once)
{
    net::io_context ioc;
    auto listener = silent_listener(ioc, 16);
    connection_pool pool(
        ioc.get_executor(),
        loopback(listener.local_endpoint().port(), true),
        make_client_tls_context(""),
        with_connect_timeout(10s)
    );
    std::size_t winner = 99;
    clock::duration took{};
    run_with_limit(ioc, [&]() -> awaitable<void> {
        using namespace net::experimental::awaitable_operators;
        net::steady_timer stop(co_await net::this_coro::executor, 200ms);
        const auto start = clock::now();
        // `||` cancels the loser and waits for it to finish: the race ends only once
        // connect() has honoured the cancellation.
        auto r = co_await (pool.connect(far_future()) || stop.async_wait(net::use_awaitable));
        took = clock::now() - start;
        winner = r.index();
    });
    BOOST_TEST(winner == 1u);
    BOOST_TEST((took < slow_machine_bound), (took / 1ms) << " ms");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
