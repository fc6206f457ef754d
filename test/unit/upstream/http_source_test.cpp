#include "loopback_server.hpp"
#include <tokenrelay/upstream/http_source.hpp>
#include <tokenrelay/upstream/request_body.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace tokenrelay::upstream {
namespace {

using namespace test;
using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

const std::string api_key = "sk-test-0123456789";

http_source_options options_for(std::uint16_t port)
{
    http_source_options o;
    o.endpoint = *parse_endpoint("http://127.0.0.1:" + std::to_string(port) + "/v1").value;
    o.api_key = api_key;
    o.connect_timeout = 2s;
    o.first_token_timeout = 5s;
    o.token_timeout = 5s;
    o.retry_limits = {2, 1000ms, 1ms, 2ms};
    return o;
}

chat_request hello_request()
{
    chat_request r;
    r.model = "test-model";
    r.messages = {{"user", "Hello"}};
    return r;
}

// One line per event, so a failing comparison shows exactly what differed.
std::string show(const stream_event& e)
{
    switch (e.type) {
    case stream_event::kind::token:
        return "token " + std::string(e.text);
    case stream_event::kind::reasoning:
        return "reasoning " + std::string(e.text);
    case stream_event::kind::refusal:
        return "refusal " + std::string(e.text);
    case stream_event::kind::chunk:
        return "chunk " + std::string(e.text);
    case stream_event::kind::usage_chunk:
        return "usage_chunk " + std::string(e.text);
    case stream_event::kind::finished:
        return "finished " + e.end->finish_reason +
               (e.end->usage ? " " + std::to_string(e.end->usage->prompt_tokens) + "/" +
                                   std::to_string(e.end->usage->completion_tokens)
                             : std::string(" no-usage"));
    case stream_event::kind::failed:
        return "failed " + std::string(code_name(e.end->code)) + " " +
               std::to_string(e.end->http_status) + " " + e.end->message;
    }
    return "?";
}

awaitable<void> collect(event_channel& ch, std::vector<std::string>& seen)
{
    for (;;) {
        auto ev = co_await ch.async_receive(net::use_awaitable);
        seen.push_back(show(ev));
        if (ev.type == stream_event::kind::finished || ev.type == stream_event::kind::failed)
            co_return;
    }
}

/// Runs one stream to its end and returns its events; also checks that nothing follows
/// the final event.
awaitable<std::vector<std::string>>
run_stream(model_source& src, chat_request req, std::size_t capacity = 16)
{
    event_channel ch(co_await net::this_coro::executor, capacity);
    std::vector<std::string> seen;
    co_await (src.stream(std::move(req), ch) && collect(ch, seen));
    BOOST_TEST(!ch.ready());
    co_return seen;
}

awaitable<void> sleep_for(std::chrono::milliseconds d)
{
    net::steady_timer t(co_await net::this_coro::executor, d);
    co_await t.async_wait(net::use_awaitable);
}

using strings = std::vector<std::string>;

} // namespace

BOOST_AUTO_TEST_SUITE(http_source_streaming)

BOOST_AUTO_TEST_CASE(streams_tokens_reasoning_finish_and_usage)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply({
            delta(R"({"role":"assistant","content":""})"),
            delta(R"({"reasoning_content":"think "})"),
            content("Hello"),
            delta(R"({"content":null})"),
            content(""),
            content(" world"),
            delta(R"({"reasoning_content":"r","content":"!"})"),
            delta(R"({"content":"?","refusal":"no","reasoning_content":"hm"})"),
            finish("length"),
            usage(5, 3),
            "[DONE]",
        });
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    const strings want{
        "reasoning think ",
        "token Hello",
        "token  world",
        "reasoning r",
        "token !",
        // Section 2's order within one delta: reasoning, refusal, token.
        "reasoning hm",
        "refusal no",
        "token ?",
        "finished length 5/3",
    };
    BOOST_TEST(got == want, boost::test_tools::per_element());

    BOOST_TEST_REQUIRE(server.requests.size() == 1u);
    const auto& r = server.requests[0];
    BOOST_TEST(r.method == "POST");
    BOOST_TEST(r.target == "/v1/chat/completions");
    BOOST_TEST(r.host == "127.0.0.1:" + std::to_string(server.port()));
    BOOST_TEST(r.authorization == "Bearer " + api_key);
    BOOST_TEST(r.content_type == "application/json");
    BOOST_TEST(r.accept == "text/event-stream");
    BOOST_TEST(r.body == build_request_body(hello_request()));
}

BOOST_AUTO_TEST_CASE(no_authorization_header_without_a_key_and_done_defaults_to_stop)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply({content("a"), "[DONE]"});
    });
    auto o = options_for(server.port());
    o.api_key.clear();
    http_source src(ioc.get_executor(), nullptr, o);
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token a", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST_REQUIRE(server.requests.size() == 1u);
    BOOST_TEST(server.requests[0].authorization == "");
}

BOOST_AUTO_TEST_CASE(crlf_and_cr_line_ends)
{
    for (std::string eol : {"\r\n", "\r"}) {
        BOOST_TEST_CONTEXT("eol size " << eol.size())
        {
            net::io_context ioc;
            loopback_server server(ioc, [eol](const served_request&, std::size_t) {
                return sse_reply(
                    {content("w0 "), content("w1 "), finish("stop"), usage(1, 2), "[DONE]"}, eol
                );
            });
            http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
            strings got;
            run_with_limit(ioc, [&]() -> awaitable<void> {
                got = co_await run_stream(src, hello_request());
            });
            BOOST_TEST(
                got == (strings{"token w0 ", "token w1 ", "finished stop 1/2"}),
                boost::test_tools::per_element()
            );
        }
    }
}

BOOST_AUTO_TEST_CASE(every_byte_in_its_own_write)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        std::string body;
        for (const auto& p :
             {content("héllo "),
              content("wörld"),
              finish("stop"),
              usage(2, 2),
              std::string("[DONE]")})
            body += event(p, "\r\n");
        reply r;
        r.writes.push_back(sse_head());
        for (char c : body)
            r.writes.push_back(chunk(std::string_view(&c, 1)));
        r.writes.push_back(last_chunk);
        return r;
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token héllo ", "token wörld", "finished stop 2/2"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(finish_reason_without_done_still_finishes)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply({content("a"), finish("stop"), usage(3, 1)});
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(got == (strings{"token a", "finished stop 3/1"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stream_ending_without_done_or_finish_reason_fails)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply({content("a"), content("b")});
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{
                   "token a",
                   "token b",
                   "failed upstream_error 200 upstream stream ended before completion"}),
        boost::test_tools::per_element()
    );
    BOOST_TEST(server.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(connection_dropped_mid_stream_fails_without_retry)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        auto r = sse_reply({content("a")});
        r.writes.pop_back(); // no last chunk: the body is cut short
        r.after = reply::then::close;
        return r;
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0] == "token a");
    BOOST_TEST(
        got[1].rfind("failed upstream_error 200 upstream connection lost: ", 0) == 0, got[1]
    );
    BOOST_TEST(server.requests.size() == 1u); // a token was delivered: never retried
}

BOOST_AUTO_TEST_CASE(error_event_inside_a_200)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply(
            {content("a"), R"({"error":{"message":"mock stream error","type":"mock_error"}})"}
        );
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token a", "failed upstream_error 200 upstream error: mock stream error"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(malformed_event)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply({content("a"), "{not json"});
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0] == "token a");
    BOOST_TEST(
        got[1].rfind("failed upstream_error 200 malformed upstream event: ", 0) == 0, got[1]
    );
}

BOOST_AUTO_TEST_CASE(endless_line_is_an_error_not_unbounded_memory)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        reply r;
        r.writes.push_back(sse_head());
        const std::string block(64 * 1024, 'a');
        for (int i = 0; i < 160; ++i) // 10 MiB with no newline
            r.writes.push_back(chunk(block));
        r.writes.push_back(last_chunk);
        r.after = reply::then::close;
        return r;
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST(
        got[0].rfind("failed upstream_error 200 unreadable upstream event stream: ", 0) == 0, got[0]
    );
    BOOST_TEST(src.idle_connections() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_source_failures_and_retries)

BOOST_AUTO_TEST_CASE(server_error_is_retried_then_reported_with_the_key_redacted)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request& r, std::size_t) {
        return error_reply(
            500, R"({"error":{"message":"invalid key )" + r.authorization + R"("}})"
        );
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got ==
            (strings{
                "failed upstream_error 500 upstream answered 500: invalid key Bearer [redacted]"}),
        boost::test_tools::per_element()
    );
    BOOST_TEST(server.requests.size() == 3u); // 1 + max_retries
    BOOST_TEST(server.accepts == 1);          // error replies leave the connection reusable
}

BOOST_AUTO_TEST_CASE(client_error_fails_at_once)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return error_reply(
            400, R"({"error":{"message":"unknown model","type":"invalid_request_error"}})"
        );
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"failed upstream_error 400 upstream answered 400: unknown model"}),
        boost::test_tools::per_element()
    );
    BOOST_TEST(server.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(error_bodies_that_are_not_openai_json)
{
    struct body_case
    {
        std::string body;
        std::string text;
    };
    const std::vector<body_case> cases{
        {R"({"error":"plain string"})", "plain string"},
        {R"({"detail":"Not Found"})", "Not Found"},
        {"  <html>oops</html>\n", "<html>oops</html>"},
        {"", "Whatever"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.body)
        {
            net::io_context ioc;
            loopback_server server(ioc, [&](const served_request&, std::size_t) {
                return error_reply(404, c.body);
            });
            http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
            strings got;
            run_with_limit(ioc, [&]() -> awaitable<void> {
                got = co_await run_stream(src, hello_request());
            });
            BOOST_TEST(
                got == (strings{"failed upstream_error 404 upstream answered 404: " + c.text}),
                boost::test_tools::per_element()
            );
        }
    }
}

BOOST_AUTO_TEST_CASE(rate_limited_with_retry_after_then_success)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t index) {
        if (index == 0)
            return error_reply(429, R"({"error":{"message":"slow down"}})", "Retry-After: 0\r\n");
        return sse_reply({content("ok"), finish("stop"), "[DONE]"});
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token ok", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(server.requests.size() == 2u);
    BOOST_TEST(server.requests[1].body == server.requests[0].body);
}

BOOST_AUTO_TEST_CASE(retry_after_beyond_the_budget_is_not_waited_for)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return error_reply(503, R"({"error":{"message":"busy"}})", "Retry-After: 120\r\n");
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    const auto start = clock::now();
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"failed upstream_error 503 upstream answered 503: busy"}),
        boost::test_tools::per_element()
    );
    BOOST_TEST(server.requests.size() == 1u);
    // Far below the 120 s asked for: a bound on a slow machine too.
    BOOST_TEST((clock::now() - start) < 10s);
}

BOOST_AUTO_TEST_CASE(connection_refused_fails_after_retries)
{
    net::io_context ioc;
    std::uint16_t port = 0;
    {
        tcp::acceptor probe(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        port = probe.local_endpoint().port();
    } // closed: connecting to it is refused
    http_source src(ioc.get_executor(), nullptr, options_for(port));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"failed upstream_error 0 upstream unreachable: connection refused"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(connection_dropped_before_the_status_line_is_retried)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t index) {
        if (index == 0) {
            reply r;
            r.after = reply::then::hang_up_unanswered;
            return r;
        }
        return sse_reply({content("ok"), "[DONE]"});
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token ok", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(server.accepts == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_source_timeouts_and_cancellation)

BOOST_AUTO_TEST_CASE(first_token_timeout_with_a_stalled_server)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        reply r;
        r.writes.push_back(sse_head());
        r.writes.push_back(chunk(event(delta(R"({"role":"assistant","content":""})"))));
        r.after = reply::then::stall;
        return r;
    });
    auto o = options_for(server.port());
    o.first_token_timeout = 200ms;
    http_source src(ioc.get_executor(), nullptr, o);
    strings got;
    clock::duration took{};
    bool closed = false;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        const auto start = clock::now();
        got = co_await run_stream(src, hello_request());
        took = clock::now() - start;
        closed = co_await server.closed.wait_at_least(1, 2s);
    });
    BOOST_TEST(
        got == (strings{"failed timeout 200 no first token within 0.2s"}),
        boost::test_tools::per_element()
    );
    BOOST_TEST(took >= 200ms);
    // Below the 5 s token timeout of options_for, the deadline that would end it otherwise.
    BOOST_TEST(took < 4s);
    BOOST_TEST(closed); // the timed-out request is closed, not pooled
    BOOST_TEST(src.idle_connections() == 0u);
    BOOST_TEST(server.requests.size() == 1u); // timeouts are not retried
}

BOOST_AUTO_TEST_CASE(first_token_timeout_when_the_server_never_answers)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        reply r;
        r.after = reply::then::stall;
        return r;
    });
    auto o = options_for(server.port());
    o.first_token_timeout = 200ms;
    http_source src(ioc.get_executor(), nullptr, o);
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"failed timeout 0 no first token within 0.2s"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(token_timeout_after_the_first_token)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        reply r;
        r.writes.push_back(sse_head());
        r.writes.push_back(chunk(event(content("w0 "))));
        r.after = reply::then::stall;
        return r;
    });
    auto o = options_for(server.port());
    o.token_timeout = 200ms;
    http_source src(ioc.get_executor(), nullptr, o);
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token w0 ", "failed timeout 200 no token within 0.2s"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(a_slow_consumer_is_not_upstream_silence)
{
    // Tokens every 60 ms against a 200 ms token timeout, but the consumer reads nothing
    // for 600 ms: the source waits on the full channel, and that wait must not count.
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        auto r = sse_reply(
            {content("a"), content("b"), content("c"), content("d"), finish("stop"), "[DONE]"}
        );
        r.gap = 60ms;
        return r;
    });
    auto o = options_for(server.port());
    o.token_timeout = 200ms;
    http_source src(ioc.get_executor(), nullptr, o);
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        event_channel ch(co_await net::this_coro::executor, 1);
        auto slow = [&]() -> awaitable<void> {
            co_await sleep_for(600ms);
            co_await collect(ch, got);
        };
        co_await (src.stream(hello_request(), ch) && slow());
    });
    BOOST_TEST(
        got == (strings{"token a", "token b", "token c", "token d", "finished stop no-usage"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(cancellation_closes_the_upstream_connection_at_once)
{
    for (bool headers_sent : {false, true}) {
        BOOST_TEST_CONTEXT("headers sent: " << headers_sent)
        {
            net::io_context ioc;
            loopback_server server(ioc, [headers_sent](const served_request&, std::size_t) {
                reply r;
                if (headers_sent)
                    r.writes = {sse_head(), chunk(event(content("w0 ")))};
                r.after = reply::then::stall;
                return r;
            });
            http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
            std::size_t index = 99;
            bool closed = false;
            std::string before_cancel;
            bool event_after_cancel = true;
            run_with_limit(ioc, [&]() -> awaitable<void> {
                event_channel ch(co_await net::this_coro::executor, 16);
                // Cancel once the request is in flight (and, with headers, once a token
                // has come through): the socket read is pending at that moment.
                auto cancel_when_streaming = [&]() -> awaitable<void> {
                    co_await server.requests_seen.wait_at_least(1, 2s);
                    if (headers_sent)
                        before_cancel = (co_await ch.async_receive(net::use_awaitable)).text;
                };
                auto race = co_await (src.stream(hello_request(), ch) || cancel_when_streaming());
                index = race.index();
                // Closed well before the 5 s timeouts of options_for would close it.
                closed = co_await server.closed.wait_at_least(1, 4s);
                event_after_cancel = ch.try_receive([](error_code, stream_event) {});
            });
            BOOST_TEST(before_cancel == (headers_sent ? "w0 " : ""));
            BOOST_TEST(index == 1u);
            BOOST_TEST(closed);
            BOOST_TEST(!event_after_cancel);
            BOOST_TEST(src.idle_connections() == 0u);
            BOOST_TEST(server.requests.size() == 1u);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_source_keep_alive)

BOOST_AUTO_TEST_CASE(sequential_streams_reuse_one_connection)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t index) {
        return sse_reply({content("n" + std::to_string(index)), finish("stop"), "[DONE]"});
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings first, second;
    std::size_t idle_between = 0;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        first = co_await run_stream(src, hello_request());
        idle_between = src.idle_connections();
        second = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        first == (strings{"token n0", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(
        second == (strings{"token n1", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(idle_between == 1u);
    BOOST_TEST(server.accepts == 1);
    BOOST_TEST(server.requests.size() == 2u);
    BOOST_TEST(src.idle_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(connection_close_is_not_pooled)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        reply r;
        const std::string body = event(content("x")) + event("[DONE]");
        r.writes.push_back(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body
        );
        r.after = reply::then::close;
        return r;
    });
    http_source src(ioc.get_executor(), nullptr, options_for(server.port()));
    strings first, second;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        first = co_await run_stream(src, hello_request());
        second = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        first == (strings{"token x", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(second == first, boost::test_tools::per_element());
    BOOST_TEST(server.accepts == 2);
    BOOST_TEST(src.idle_connections() == 0u);
}

BOOST_AUTO_TEST_CASE(a_pooled_connection_the_server_dropped_costs_a_reconnect_not_a_retry)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t index) {
        if (index == 1) { // the second request, on the kept-alive connection
            reply r;
            r.after = reply::then::hang_up_unanswered;
            return r;
        }
        return sse_reply({content("n" + std::to_string(index)), "[DONE]"});
    });
    auto o = options_for(server.port());
    o.retry_limits.max_retries = 0;
    http_source src(ioc.get_executor(), nullptr, o);
    strings first, second;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        first = co_await run_stream(src, hello_request());
        second = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        first == (strings{"token n0", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(
        second == (strings{"token n2", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST(server.accepts == 2);
    BOOST_TEST(server.requests.size() == 3u);
}

BOOST_AUTO_TEST_CASE(host_names_are_resolved)
{
    net::io_context ioc;
    loopback_server server(ioc, [](const served_request&, std::size_t) {
        return sse_reply({content("ok"), "[DONE]"});
    });
    auto o = options_for(server.port());
    o.endpoint =
        *parse_endpoint("http://localhost:" + std::to_string(server.port()) + "/base/").value;
    http_source src(ioc.get_executor(), nullptr, o);
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(src, hello_request());
    });
    BOOST_TEST(
        got == (strings{"token ok", "finished stop no-usage"}), boost::test_tools::per_element()
    );
    BOOST_TEST_REQUIRE(server.requests.size() == 1u);
    BOOST_TEST(server.requests[0].target == "/base/chat/completions");
    BOOST_TEST(server.requests[0].host == "localhost:" + std::to_string(server.port()));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
