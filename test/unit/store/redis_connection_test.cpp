// The store's connection against Debian's real redis-server, started per test.

#include "support/redis_server.hpp"
#include "support/run_coro.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "support/time_scale.hpp"
#include <tokenrelay/store/redis_connection.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace tokenrelay;
using namespace tokenrelay::store;
using namespace std::chrono_literals;
using tokenrelay::test::redis_options;
using tokenrelay::test::redis_server;
using tokenrelay::test::run_coro;
using tokenrelay::test::scaled;

namespace {

struct exec_result
{
    error_code ec;
    std::vector<resp_value> replies;
};

awaitable<exec_result> exec(redis_connection& c, redis_request r)
{
    auto [ec, replies] = co_await c.async_exec(std::move(r), use_tuple);
    co_return exec_result{ec, std::move(replies)};
}

awaitable<exec_result> exec1(redis_connection& c, std::initializer_list<std::string_view> args)
{
    redis_request r;
    r.push(args);
    co_return co_await exec(c, std::move(r));
}

// Runs the loop until the connection's state is `up`; the state is announced through
// on_state_change, so this waits for that event, bounded in time.
void wait_state(net::io_context& io, redis_connection& c, bool up, std::chrono::milliseconds limit)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
    while (c.up() != up && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped())
            io.restart();
        io.run_one_until(deadline);
    }
    BOOST_REQUIRE_MESSAGE(
        c.up() == up, "store never became " << (up ? "up" : "down") << ": " << c.last_failure()
    );
}

redis_endpoint endpoint_of(const redis_server& r)
{
    redis_endpoint e;
    e.port = r.port();
    return e;
}

struct started
{
    net::io_context io;
    std::shared_ptr<redis_connection> conn;

    started(redis_endpoint e, connection_timing t = {})
        : conn(redis_connection::make(io.get_executor(), std::move(e), t))
    {
        conn->start();
    }
    ~started()
    {
        conn->stop();
        io.run_for(std::chrono::milliseconds(100));
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(redis_connection_suite)

BOOST_AUTO_TEST_CASE(commands_round_trip_binary_safe)
{
    redis_server redis;
    started s(endpoint_of(redis));
    wait_state(s.io, *s.conn, true, 5s);

    const std::string value("a\0b\r\nc", 6);
    redis_request r;
    r.push({"SET", "k", value});
    r.push({"GET", "k"});
    r.push({"GET", "missing"});
    r.push({"INCR", "k"}); // not a number: an error reply, not a failure
    auto got = run_coro(s.io, exec(*s.conn, std::move(r)), scaled(5s));
    BOOST_REQUIRE(!got.ec);
    BOOST_REQUIRE_EQUAL(got.replies.size(), 4u);
    BOOST_TEST(got.replies[0].is_status("OK"));
    BOOST_TEST(got.replies[1].text == value);
    BOOST_TEST(got.replies[2].is_nil());
    BOOST_TEST(got.replies[3].is_error());
    BOOST_TEST(s.conn->up());
    BOOST_TEST(redis.cli({"STRLEN", "k"}) == "6");
}

BOOST_AUTO_TEST_CASE(requests_made_together_go_in_one_round_in_order)
{
    redis_server redis;
    started s(endpoint_of(redis));
    wait_state(s.io, *s.conn, true, 5s);

    constexpr int n = 1000;
    auto many = [&]() -> awaitable<std::vector<long long>> {
        std::vector<long long> order;
        int done = 0;
        net::steady_timer all_done(s.io, net::steady_timer::time_point::max());
        // Every request is submitted before the first reply can come back.
        for (int i = 0; i < n; ++i) {
            redis_request r;
            r.push({"RPUSH", "list", std::to_string(i)});
            s.conn->async_exec(std::move(r), [&, i](error_code ec, std::vector<resp_value> v) {
                BOOST_TEST(!ec);
                if (!ec)
                    BOOST_TEST(v.at(0).integer == i + 1); // the list's length after it
                order.push_back(i);
                if (++done == n)
                    all_done.cancel();
            });
        }
        co_await all_done.async_wait(use_tuple);
        co_return order;
    };
    const auto before = s.conn->stats().rounds;
    auto order = run_coro(s.io, many(), scaled(10s));
    BOOST_REQUIRE_EQUAL(order.size(), std::size_t(n));
    for (int i = 0; i < n; ++i)
        BOOST_TEST(order[i] == i);
    BOOST_TEST(s.conn->stats().rounds - before == 1u);
    BOOST_TEST(redis.cli({"LLEN", "list"}) == std::to_string(n));
}

BOOST_AUTO_TEST_CASE(requests_made_during_a_round_wait_for_it_then_go_together)
{
    redis_server redis;
    started s(endpoint_of(redis));
    wait_state(s.io, *s.conn, true, 5s);

    auto rounds = [&]() -> awaitable<std::uint64_t> {
        const auto before = s.conn->stats().rounds;
        int done = 0;
        net::steady_timer all_done(s.io, net::steady_timer::time_point::max());
        auto count = [&](error_code ec, std::vector<resp_value>) {
            BOOST_TEST(!ec);
            if (++done == 11)
                all_done.cancel();
        };
        redis_request first;
        first.push({"PING"});
        s.conn->async_exec(std::move(first), count);
        // Let the first round go out, then queue ten while it waits for its reply.
        co_await net::post(s.io, net::use_awaitable);
        for (int i = 0; i < 10; ++i) {
            redis_request r;
            r.push({"INCR", "n"});
            s.conn->async_exec(std::move(r), count);
        }
        co_await all_done.async_wait(use_tuple);
        co_return s.conn->stats().rounds - before;
    };
    BOOST_TEST(run_coro(s.io, rounds(), scaled(10s)) == 2u);
    BOOST_TEST(redis.cli({"GET", "n"}) == "10");
}

BOOST_AUTO_TEST_CASE(password_and_database)
{
    redis_server redis(redis_options{.password = "s3cret-pw"});
    auto e = endpoint_of(redis);
    e.password = "s3cret-pw";
    e.db = 3;
    started s(e);
    wait_state(s.io, *s.conn, true, 5s);
    auto got = run_coro(s.io, exec1(*s.conn, {"SET", "in3", "yes"}), scaled(5s));
    BOOST_REQUIRE(!got.ec);
    BOOST_TEST(redis.cli({"-n", "3", "GET", "in3"}) == "yes");
    BOOST_TEST(redis.cli({"-n", "0", "EXISTS", "in3"}) == "0");
}

BOOST_AUTO_TEST_CASE(wrong_password_keeps_it_down_and_out_of_the_failure)
{
    redis_server redis(redis_options{.password = "right-one"});
    auto e = endpoint_of(redis);
    e.password = "wrong-one";
    started s(e, connection_timing{.reply_timeout = 500ms, .reconnect_min = 50ms});
    // Refused at set-up: never up, and a request fails at once.
    s.io.run_for(scaled(300ms));
    BOOST_TEST(!s.conn->up());
    BOOST_TEST(
        s.conn->last_failure().find("WRONGPASS") != std::string::npos, s.conn->last_failure()
    );
    BOOST_TEST(s.conn->last_failure().find("wrong-one") == std::string::npos);
    auto got = run_coro(s.io, exec1(*s.conn, {"PING"}), scaled(5s));
    BOOST_TEST((got.ec == connection_error::down));
}

BOOST_AUTO_TEST_CASE(nothing_listening_is_down)
{
    std::uint16_t port = 0;
    {
        redis_server gone;
        port = gone.port();
    }
    redis_endpoint e;
    e.port = port;
    started s(e, connection_timing{.reply_timeout = 500ms, .reconnect_min = 50ms});
    s.io.run_for(scaled(200ms));
    BOOST_TEST(!s.conn->up());
    BOOST_TEST(s.conn->last_failure().find("connect") != std::string::npos, s.conn->last_failure());
    auto got = run_coro(s.io, exec1(*s.conn, {"PING"}), scaled(5s));
    BOOST_TEST((got.ec == connection_error::down));
}

BOOST_AUTO_TEST_CASE(a_store_that_stops_answering_times_out_then_comes_back)
{
    redis_server redis;
    const auto timeout = 300ms;
    started s(
        endpoint_of(redis), connection_timing{.reply_timeout = timeout, .reconnect_min = 50ms}
    );
    wait_state(s.io, *s.conn, true, 5s);

    redis.pause();
    const auto t0 = std::chrono::steady_clock::now();
    auto got = run_coro(s.io, exec1(*s.conn, {"SET", "a", "1"}), scaled(10s));
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((got.ec == connection_error::timeout), got.ec.message());
    // Not before the reply timeout: the bound is what is under test.
    BOOST_TEST(took >= timeout);
    BOOST_TEST(!s.conn->up());
    auto later = run_coro(s.io, exec1(*s.conn, {"PING"}), scaled(5s));
    BOOST_TEST((later.ec == connection_error::down));

    redis.resume();
    wait_state(s.io, *s.conn, true, 10s);
    auto again = run_coro(s.io, exec1(*s.conn, {"GET", "a"}), scaled(5s));
    BOOST_REQUIRE(!again.ec);
    BOOST_REQUIRE_EQUAL(again.replies.size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_killed_store_fails_what_waits_and_reconnects_after_restart)
{
    redis_server redis;
    started s(endpoint_of(redis), connection_timing{.reply_timeout = 2s, .reconnect_min = 50ms});
    wait_state(s.io, *s.conn, true, 5s);
    std::vector<bool> changes;
    s.conn->on_state_change([&](bool up) { changes.push_back(up); });

    redis.kill();
    auto got = run_coro(s.io, exec1(*s.conn, {"PING"}), scaled(5s));
    BOOST_TEST(!!got.ec); // lost on the way, or down already
    wait_state(s.io, *s.conn, false, 5s);

    redis.restart();
    wait_state(s.io, *s.conn, true, 10s);
    auto again = run_coro(s.io, exec1(*s.conn, {"PING"}), scaled(5s));
    BOOST_REQUIRE(!again.ec);
    BOOST_TEST(again.replies.at(0).is_status("PONG"));
    BOOST_TEST((changes == std::vector<bool>{false, true}));
    s.conn->on_state_change(nullptr); // `changes` goes before the connection stops
}

BOOST_AUTO_TEST_CASE(stop_fails_what_waits)
{
    redis_server redis;
    started s(endpoint_of(redis));
    wait_state(s.io, *s.conn, true, 5s);
    redis.pause();
    error_code seen;
    bool called = false;
    redis_request r;
    r.push({"PING"});
    s.conn->async_exec(std::move(r), [&](error_code ec, std::vector<resp_value>) {
        called = true;
        seen = ec;
    });
    s.io.run_for(50ms);
    s.conn->stop();
    s.io.run_for(50ms);
    BOOST_TEST(called);
    BOOST_TEST((seen == connection_error::stopped));
    redis.resume();
}

BOOST_AUTO_TEST_CASE(tls_with_a_test_ca)
{
    tokenrelay::test::temp_dir dir;
    const auto certs = tokenrelay::test::make_test_certs(dir.path());
    redis_server redis(redis_options{.tls_cert = certs.server_cert, .tls_key = certs.server_key});

    auto trusted = std::make_shared<ssl::context>(ssl::context::tls_client);
    trusted->load_verify_file(certs.ca_cert.string());
    auto e = endpoint_of(redis);
    e.tls = trusted;
    started s(e);
    wait_state(s.io, *s.conn, true, 5s);
    auto got = run_coro(s.io, exec1(*s.conn, {"ECHO", "over tls"}), scaled(5s));
    BOOST_REQUIRE(!got.ec);
    BOOST_TEST(got.replies.at(0).text == "over tls");

    // The same server with no trust in its CA: the handshake fails, the store stays down.
    auto untrusted = std::make_shared<ssl::context>(ssl::context::tls_client);
    auto e2 = endpoint_of(redis);
    e2.tls = untrusted;
    started s2(e2, connection_timing{.reply_timeout = 500ms, .reconnect_min = 50ms});
    s2.io.run_for(scaled(300ms));
    BOOST_TEST(!s2.conn->up());
    BOOST_TEST(s2.conn->last_failure().find("TLS") != std::string::npos, s2.conn->last_failure());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(redis_subscriber_suite)

BOOST_AUTO_TEST_CASE(pushed_messages_go_to_the_callback_and_replies_to_requests)
{
    redis_server redis;
    started sub(endpoint_of(redis));
    std::vector<std::pair<std::string, std::string>> got;
    net::steady_timer two(sub.io, net::steady_timer::time_point::max());
    sub.conn->on_message([&](std::string_view channel, std::string_view payload) {
        got.emplace_back(channel, payload);
        if (got.size() == 2)
            two.cancel();
    });
    wait_state(sub.io, *sub.conn, true, 5s);
    redis_request r;
    r.push({"SUBSCRIBE", "a", "b"}, 2);
    auto confirmed = run_coro(sub.io, exec(*sub.conn, std::move(r)), scaled(5s));
    BOOST_REQUIRE(!confirmed.ec);
    BOOST_REQUIRE_EQUAL(confirmed.replies.size(), 2u);
    BOOST_TEST(confirmed.replies[0].elements.at(0).text == "subscribe");
    BOOST_TEST(confirmed.replies[1].elements.at(1).text == "b");

    BOOST_TEST(redis.cli({"PUBLISH", "b", "two"}) == "1");
    BOOST_TEST(redis.cli({"PUBLISH", "a", "one\r\nline"}) == "1");
    auto wait = [&]() -> awaitable<void> { co_await two.async_wait(use_tuple); };
    run_coro(sub.io, wait(), scaled(5s));
    BOOST_REQUIRE_EQUAL(got.size(), 2u);
    BOOST_TEST(got[0].first == "b");
    BOOST_TEST(got[0].second == "two");
    BOOST_TEST(got[1].first == "a");
    BOOST_TEST(got[1].second == "one\r\nline");

    // A request after pushes is still matched to its own reply.
    redis_request u;
    u.push({"UNSUBSCRIBE", "a"});
    auto left = run_coro(sub.io, exec(*sub.conn, std::move(u)), scaled(5s));
    BOOST_REQUIRE(!left.ec);
    BOOST_TEST(left.replies.at(0).elements.at(0).text == "unsubscribe");
    BOOST_TEST(redis.cli({"PUBLISH", "a", "gone"}) == "0");
    sub.conn->on_message(nullptr); // `got` and `two` go before the connection stops
}

BOOST_AUTO_TEST_SUITE_END()
