// Client mistakes: every error code of PROTOCOL.md section 2 a client can provoke without
// configuration, and the WebSocket close codes for protocol violations (RFC 6455 7.4.1).

#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

json::object chat(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

/// The connection is still usable: a ping is answered by the very next frame.
void expect_open(ws_client& ws)
{
    ws.send({{"type", "ping"}, {"timestamp", 4242}});
    const auto pong = ws.read();
    BOOST_TEST(string_of(pong, "type") == "pong");
    BOOST_TEST(number(pong.at("client_timestamp")) == 4242.0);
}

void expect_error(ws_client& ws, std::string_view code)
{
    const auto f = ws.read();
    BOOST_TEST(string_of(f, "type") == "error", "frame " << f);
    BOOST_TEST(string_of(f, "code") == code, "frame " << f);
    BOOST_TEST(!string_of(f, "message").empty());
}

BOOST_AUTO_TEST_CASE(bad_json_keeps_the_connection, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const char* cases[] = {
        "not json", "{\"type\":\"chat\"", "[1,2,3]", "\"chat\"", "42", "null", ""};
    for (const char* text : cases) {
        BOOST_TEST_CONTEXT("frame: " << text)
        {
            s->send_text(text);
            expect_error(*s.ws, "bad_json");
            expect_open(*s.ws);
        }
    }
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_upstream, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const std::string long_id(65, 'i');
    const char* cases[] = {
        R"({"type":"chat"})",
        R"({"type":"chat","content":""})",
        R"({"type":"chat","content":42})",
        R"({"type":"chat","content":null})",
        R"({"type":"chat","content":["a"]})",
        R"({"type":"chat","content":"hi","context":"not an array"})",
        R"({"type":"chat","content":"hi","context":[{"role":"robot","content":"x"}]})",
        R"({"type":"chat","content":"hi","context":[{"role":"user"}]})",
        R"({"type":"chat","content":"hi","context":[{"role":"user","content":7}]})",
        R"({"type":"chat","content":"hi","context":["user: x"]})",
        R"({"type":"chat","content":"hi","id":42})",
        R"({"type":"chat","content":"hi","options":5})",
        R"({"type":"chat","content":"hi","options":{"temperature":2.5}})",
        R"({"type":"chat","content":"hi","options":{"temperature":-0.1}})",
        R"({"type":"chat","content":"hi","options":{"temperature":"hot"}})",
        R"({"type":"chat","content":"hi","options":{"max_tokens":0}})",
        R"({"type":"chat","content":"hi","options":{"max_tokens":-3}})",
        R"({"type":"chat","content":"hi","options":{"max_tokens":1.5}})",
        R"({"type":"chat","content":"hi","options":{"max_tokens":"10"}})",
        R"({"type":"chat","content":"hi","options":{"max_tokens":1000000000}})",
        R"({"type":"chat","content":"hi","options":{"model":7}})",
    };
    for (const char* text : cases) {
        BOOST_TEST_CONTEXT("frame: " << text)
        {
            s->send_text(text);
            expect_error(*s.ws, "bad_request");
        }
    }
    BOOST_TEST_CONTEXT("id of 65 characters")
    {
        auto msg = chat("hi");
        msg["id"] = long_id;
        s->send(msg);
        expect_error(*s.ws, "bad_request");
    }
    expect_open(*s.ws);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);

    // None of them was a generation: the first real one starts the session's seq at 1,
    // and the limits themselves are allowed (id of 64, temperature 0 and 2, max_tokens 1).
    auto ok = chat("fine now mock:tokens=2");
    ok["id"] = std::string(64, 'i');
    ok["options"] = {{"temperature", 2}, {"max_tokens", 1}};
    s->send(ok);
    auto r = s->collect_reply();
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(check_seqs(r, 0) == 4);
    BOOST_TEST(string_of(r.end, "id") == std::string(64, 'i'));
    const auto body = f.mock_stats().at("last_body").as_object();
    BOOST_TEST(number(body.at("temperature")) == 2.0);
    BOOST_TEST(integer(body, "max_tokens") == 1);

    ok = chat("cold mock:tokens=1");
    ok["options"] = {{"temperature", 0}};
    s->send(ok);
    r = s->collect_reply();
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == "w0 ");
    BOOST_TEST(number(f.mock_stats().at("last_body").as_object().at("temperature")) == 0.0);
}

BOOST_AUTO_TEST_CASE(unknown_types_are_refused, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const char* cases[] = {
        R"({"type":"dance"})",
        R"({"content":"no type"})",
        R"({"type":5})",
        R"({"type":null})",
        R"({"type":"CHAT","content":"case matters"})",
        R"({"type":"token","content":"a relay frame"})",
    };
    for (const char* text : cases) {
        BOOST_TEST_CONTEXT("frame: " << text)
        {
            s->send_text(text);
            expect_error(*s.ws, "unknown_type");
        }
    }
    expect_open(*s.ws);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
}

BOOST_AUTO_TEST_CASE(busy_while_a_reply_streams, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    auto a = chat("long one mock:tokens=20 mock:interval=50");
    a["id"] = "a";
    s->send(a);
    std::vector<json::object> before;
    const auto first = s->read_until("token", &before);
    // Section 2: the chat's user frame, then its tokens.
    BOOST_TEST_REQUIRE(before.size() == 1u);
    BOOST_TEST(string_of(before[0], "type") == "user");
    BOOST_TEST(string_of(first, "id") == "a");

    auto b = chat("second one");
    b["id"] = "b";
    s->send(b);
    const auto r = s->collect_reply(30s, {before[0], first});

    BOOST_TEST_REQUIRE(r.errors.size() == 1u);
    BOOST_TEST(string_of(r.errors[0], "code") == "busy");
    BOOST_TEST(string_of(r.errors[0], "id") == "b");
    // The running generation goes on to its normal end.
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 ");
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    BOOST_TEST(string_of(r.end, "id") == "a");
    BOOST_TEST(check_seqs(r, 0) == 22);
    // Exactly one stream_end per accepted chat: nothing more for "b".
    expect_open(*s.ws);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

BOOST_AUTO_TEST_CASE(upstream_request_cap_refuses_with_overloaded, *scaled_timeout(60))
{
    // Section 2: at --max-upstream-requests a chat is refused with `overloaded` and a
    // retry_after_ms, without asking the upstream; a freed slot is usable again.
    relay_fixture f{{.flags = {"--max-upstream-requests", "1"}}};
    auto a = f.open_session();
    a->send(chat("holds the slot mock:tokens=3 mock:interval=300"));
    a->read_until("token");

    auto b = f.open_session();
    auto refused = chat("wants a slot mock:tokens=2");
    refused["id"] = "b1";
    b->send(refused);
    const auto err = b->read();
    BOOST_TEST(string_of(err, "type") == "error");
    BOOST_TEST(string_of(err, "code") == "overloaded");
    BOOST_TEST(string_of(err, "id") == "b1");
    BOOST_TEST(integer(err, "retry_after_ms") == 1000);
    expect_open(*b.ws); // no stream_end: the chat never started

    const auto first = a->collect_reply();
    BOOST_TEST(first.text == "w1 w2 ");
    b->send(chat("now there is room mock:tokens=2"));
    const auto second = b->collect_reply();
    BOOST_TEST(second.errors.empty());
    BOOST_TEST(second.text == "w0 w1 ");
    BOOST_TEST(integer(f.mock_stats(), "requests") == 2);
}

BOOST_AUTO_TEST_CASE(binary_frame_closes_with_1003, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send_binary(R"({"type":"ping"})");
    s->expect_close(1003);
}

BOOST_AUTO_TEST_CASE(oversized_message_closes_with_1009, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--max-message-bytes", "1024"}}};

    BOOST_TEST_CONTEXT("exactly the limit is accepted")
    {
        auto s = f.open_session();
        auto msg = chat("");
        const auto overhead = json::serialize(msg).size();
        msg["content"] = std::string(1024 - overhead - 14, 'p') + " mock:tokens=1";
        const auto text = json::serialize(msg);
        BOOST_TEST_REQUIRE(text.size() == 1024u);
        s->send_text(text);
        const auto r = s->collect_reply();
        BOOST_TEST(r.errors.empty());
        BOOST_TEST(r.text == "w0 ");
    }
    BOOST_TEST_CONTEXT("one frame of 1025 bytes")
    {
        auto s = f.open_session();
        auto msg = chat("");
        const auto overhead = json::serialize(msg).size();
        msg["content"] = std::string(1025 - overhead, 'p');
        const auto text = json::serialize(msg);
        BOOST_TEST_REQUIRE(text.size() == 1025u);
        s->send_text(text);
        s->expect_close(1009);
    }
    BOOST_TEST_CONTEXT("a message of 1200 bytes in three frames of 400")
    {
        auto s = f.open_session();
        s->send_fragments({std::string(400, ' '), std::string(400, ' '), std::string(400, ' ')});
        s->expect_close(1009);
    }
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_closes_with_1007, *scaled_timeout(60))
{
    relay_fixture f;
    BOOST_TEST_CONTEXT("invalid byte in one frame")
    {
        auto s = f.open_session();
        s->send_text("{\"type\":\"chat\",\"content\":\"\xff\xfe\"}");
        s->expect_close(1007);
    }
    BOOST_TEST_CONTEXT("a character cut by a bad byte in the next frame")
    {
        // The first frame ends inside a 3-byte character and is valid so far; the next
        // frame's first byte is no continuation byte.
        auto s = f.open_session();
        s->send_fragments({"{\"type\":\"chat\",\"content\":\"\xE2\x9C", "A\"}"});
        s->expect_close(1007);
    }
    BOOST_TEST_CONTEXT("valid UTF-8 split inside a character is fine")
    {
        auto s = f.open_session();
        const std::string content = "h\xC3\xA9llo \xE2\x9C\x93 mock:tokens=2";
        const std::string text = R"({"type":"chat","content":")" + content + "\"}";
        const auto cut = text.find("\xE2\x9C\x93") + 1; // between the check mark's bytes
        s->send_fragments({text.substr(0, cut), text.substr(cut)});
        const auto r = s->collect_reply();
        BOOST_TEST(r.errors.empty());
        BOOST_TEST(r.text == "w0 w1 ");
        const auto stats = f.mock_stats();
        const auto& messages = stats.at("last_body").as_object().at("messages").as_array();
        BOOST_TEST(string_of(messages.back().as_object(), "content") == content);
    }
}

} // namespace
} // namespace tokenrelay::test
