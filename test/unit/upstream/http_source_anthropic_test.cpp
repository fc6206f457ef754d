// http_source with `api_format::anthropic`: the Messages API request and stream, in-process
// against the scripted loopback server.
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

const std::string anthropic_key = "sk-ant-test-0123456789";

http_source_options anthropic_options(std::uint16_t port)
{
    http_source_options o;
    o.endpoint = *parse_endpoint("http://127.0.0.1:" + std::to_string(port) + "/v1").value;
    o.api_key = anthropic_key;
    o.format = api_format::anthropic;
    o.connect_timeout = 2s;
    o.first_token_timeout = 5s;
    o.token_timeout = 5s;
    o.retry_limits = {2, 1000ms, 1ms, 2ms};
    return o;
}

chat_request system_and_user()
{
    chat_request r;
    r.model = "claude-test";
    r.messages = {{"system", "Be brief."}, {"user", "Hello"}};
    return r;
}

std::string named(std::string_view name, std::string_view data)
{
    return "event: " + std::string(name) + "\ndata: " + std::string(data) + "\n\n";
}

reply anthropic_reply(const std::vector<std::string>& events)
{
    reply r;
    r.writes.push_back(sse_head());
    for (const auto& e : events)
        r.writes.push_back(chunk(e));
    r.writes.push_back(last_chunk);
    return r;
}

std::string text(std::string_view t)
{
    return named(
        "content_block_delta",
        R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":)" +
            json_string(t) + "}}"
    );
}

const std::string start = named(
    "message_start",
    R"({"type":"message_start","message":{"id":"m","usage":{"input_tokens":11,"output_tokens":1}}})"
);
const std::string end_turn = named(
    "message_delta",
    R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}})"
);
const std::string stop = named("message_stop", R"({"type":"message_stop"})");

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

using strings = std::vector<std::string>;

strings run_one(const script& s, std::vector<served_request>* seen = nullptr)
{
    net::io_context ioc;
    loopback_server server(ioc, s);
    http_source src(ioc.get_executor(), nullptr, anthropic_options(server.port()));
    strings got;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        event_channel ch(co_await net::this_coro::executor, 16);
        co_await (src.stream(system_and_user(), ch) && collect(ch, got));
    });
    if (seen)
        *seen = server.requests;
    return got;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_source_anthropic)

BOOST_AUTO_TEST_CASE(posts_messages_and_streams_text_thinking_and_usage)
{
    std::vector<served_request> seen;
    const auto got = run_one(
        [](const served_request&, std::size_t) {
            return anthropic_reply({
                start,
                named("ping", R"({"type": "ping"})"),
                named(
                    "content_block_delta",
                    R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}})"
                ),
                text("Hi"),
                text(" there"),
                named("content_block_stop", R"({"type":"content_block_stop","index":1})"),
                end_turn,
                stop,
            });
        },
        &seen
    );
    BOOST_TEST(
        got == (strings{"reasoning hmm", "token Hi", "token  there", "finished stop 11/2"}),
        boost::test_tools::per_element()
    );
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].target == "/v1/messages");
    // The key goes in x-api-key, never as a bearer token.
    BOOST_TEST(seen[0].authorization == "");
    BOOST_TEST(seen[0].content_type == "application/json");
    BOOST_TEST(seen[0].body == build_anthropic_request_body(system_and_user()));
}

BOOST_AUTO_TEST_CASE(a_stream_without_message_stop_is_an_upstream_error)
{
    const auto got = run_one([](const served_request&, std::size_t) {
        return anthropic_reply({start, text("a"), end_turn});
    });
    BOOST_TEST(
        got == (strings{
                   "token a", "failed upstream_error 200 upstream stream ended before completion"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(an_error_event_is_an_upstream_error)
{
    const auto got = run_one([](const served_request&, std::size_t) {
        return anthropic_reply(
            {start,
             text("a"),
             named(
                 "error",
                 R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
             )}
        );
    });
    BOOST_TEST(
        got == (strings{
                   "token a",
                   "failed upstream_error 200 upstream error: overloaded_error: Overloaded"}),
        boost::test_tools::per_element()
    );
}

BOOST_AUTO_TEST_CASE(overloaded_529_is_retried_and_errors_are_redacted)
{
    const std::string body =
        R"({"type":"error","error":{"type":"overloaded_error","message":"busy )" + anthropic_key +
        R"("}})";
    std::vector<served_request> seen;
    const auto got = run_one(
        [&](const served_request&, std::size_t i) {
            if (i == 0)
                return error_reply(529, body);
            return error_reply(
                400, R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})"
            );
        },
        &seen
    );
    BOOST_TEST(got == (strings{"failed upstream_error 400 upstream answered 400: bad"}));
    BOOST_TEST(seen.size() == 2u);

    const auto only_529 =
        run_one([&](const served_request&, std::size_t) { return error_reply(529, body); });
    BOOST_TEST_REQUIRE(only_529.size() == 1u);
    BOOST_TEST(only_529[0] == "failed upstream_error 529 upstream answered 529: busy [redacted]");
}

BOOST_AUTO_TEST_CASE(a_malformed_event_names_the_problem)
{
    const auto got = run_one([](const served_request&, std::size_t) {
        return anthropic_reply({start, named("content_block_delta", "{not json")});
    });
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST(
        got[0].starts_with("failed upstream_error 200 malformed upstream event: malformed JSON"),
        got[0]
    );
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
