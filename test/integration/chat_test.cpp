// The spine: a browser-style client talks to the real relay, which streams from the real
// mock upstream (PROTOCOL.md sections 2 and 4, mock_spec).

#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"
#include <tokenrelay/core/clock.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

const std::string default_text = "w0 w1 w2 w3 w4 w5 w6 w7 ";

json::object chat(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

json::object turn(std::string_view role, std::string_view content)
{
    return {{"role", role}, {"content", content}};
}

bool url_safe_id(const std::string& id)
{
    for (char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/// Every token/reasoning frame carries the reply's id and a relay timestamp taken while
/// the reply was read.
void check_token_frames(const reply& r, const std::string& id, std::int64_t t0, std::int64_t t1)
{
    for (const auto& f : r.tokens) {
        BOOST_TEST(string_of(f, "id") == id);
        BOOST_TEST(!string_of(f, "content").empty());
        const auto ts = integer(f, "timestamp");
        BOOST_TEST(ts >= t0 - 1000, "frame " << f);
        BOOST_TEST(ts <= t1 + 1000, "frame " << f);
    }
    BOOST_TEST(string_of(r.end, "id") == id);
}

void check_stop_end(const reply& r, std::int64_t completion_tokens, const json::object& stats)
{
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    const auto& usage = r.end.at("usage").as_object();
    BOOST_TEST(integer(usage, "completion_tokens") == completion_tokens);
    BOOST_TEST(
        integer(usage, "prompt_tokens") == mock_prompt_tokens(stats.at("last_body").as_object())
    );
    const auto& timing = r.end.at("timing").as_object();
    BOOST_TEST(integer(timing, "ttft_ms") >= 0);
    BOOST_TEST(integer(timing, "total_ms") >= integer(timing, "ttft_ms"));
}

BOOST_AUTO_TEST_CASE(session_frame_then_exact_streamed_reply, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();

    BOOST_TEST(integer(s.frame, "protocol") == 1);
    BOOST_TEST(s.frame.at("resumed").as_bool() == false);
    const auto id = string_of(s.frame, "session");
    BOOST_TEST(id.size() == 22u);
    BOOST_TEST(url_safe_id(id), "id " << id);
    BOOST_TEST(integer(s.frame, "last_seq") == 0);
    BOOST_TEST(s.frame.at("first_seq").is_number());

    const auto t0 = now_ms();
    auto msg = chat("hello there");
    msg["id"] = "m-1";
    s->send(msg);
    const auto r = s->collect_reply();
    const auto t1 = now_ms();

    BOOST_TEST(r.text == default_text);
    BOOST_TEST(r.reasoning.empty());
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(check_seqs(r, 0) == 10);
    check_token_frames(r, "m-1", t0, t1);

    const auto stats = f.mock_stats();
    check_stop_end(r, 8, stats);
    BOOST_TEST(integer(stats, "requests") == 1);
    BOOST_TEST(integer(stats, "completed") == 1);
    // PROTOCOL.md section 1: the relay adds the upstream key, as a bearer token.
    BOOST_TEST(string_of(stats, "last_authorization") == "Bearer " + std::string(test_api_key));
    // Section 6: streamed, with the usage chunk asked for, the default model.
    const auto& body = stats.at("last_body").as_object();
    BOOST_TEST(body.at("stream") == json::value(true));
    BOOST_TEST(body.at("stream_options").as_object().at("include_usage") == json::value(true));
    BOOST_TEST(string_of(body, "model") == "deepseek-v3.2");
    const auto& messages = body.at("messages").as_array();
    BOOST_TEST_REQUIRE(!messages.empty());
    BOOST_TEST(messages.back() == json::value(turn("user", "hello there")));
}

BOOST_AUTO_TEST_CASE(second_message_continues_seq_and_history, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();

    s->send(chat("first message"));
    const auto r1 = s->collect_reply();
    BOOST_TEST(r1.text == default_text);
    BOOST_TEST(check_seqs(r1, 0) == 10);
    const auto id1 = string_of(r1.end, "id");
    BOOST_TEST(!id1.empty());

    s->send(chat("and again mock:tokens=3"));
    const auto r2 = s->collect_reply();
    BOOST_TEST(r2.text == "w0 w1 w2 ");
    BOOST_TEST(check_seqs(r2, 10) == 15);
    const auto id2 = string_of(r2.end, "id");
    // The relay assigns an id when the chat has none: one per message.
    BOOST_TEST(!id2.empty());
    BOOST_TEST(id2 != id1);
    for (const auto& t : r2.tokens)
        BOOST_TEST(string_of(t, "id") == id2);

    // PROTOCOL.md section 4: without `context`, history + new message go upstream.
    const auto stats = f.mock_stats();
    check_stop_end(r2, 3, stats);
    const auto& messages = stats.at("last_body").as_object().at("messages").as_array();
    BOOST_TEST_REQUIRE(messages.size() >= 3u);
    const auto n = messages.size();
    BOOST_TEST(messages[n - 3] == json::value(turn("user", "first message")));
    BOOST_TEST(messages[n - 2] == json::value(turn("assistant", default_text)));
    BOOST_TEST(messages[n - 1] == json::value(turn("user", "and again mock:tokens=3")));
}

BOOST_AUTO_TEST_CASE(root_path_serves_the_tutorial_client, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session("/");
    BOOST_TEST(s.frame.at("resumed").as_bool() == false);

    // The original tutorial's frame: chat with content and context (PROTOCOL.md section 2).
    const json::array context{
        turn("system", "You are terse."),
        turn("user", "earlier question"),
        turn("assistant", "earlier answer"),
    };
    auto msg = chat("now this mock:tokens=4");
    msg["context"] = context;
    s->send(msg);
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 w3 ");
    BOOST_TEST(check_seqs(r, 0) == 6);

    // Section 4: a chat with context uses exactly that context.
    const auto stats = f.mock_stats();
    check_stop_end(r, 4, stats);
    auto expected = context;
    expected.push_back(turn("user", "now this mock:tokens=4"));
    BOOST_TEST(stats.at("last_body").as_object().at("messages") == json::value(expected));
}

BOOST_AUTO_TEST_CASE(reasoning_frames_precede_tokens, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const auto t0 = now_ms();
    auto msg = chat("think first mock:reasoning=3");
    msg["id"] = "r-1";
    s->send(msg);
    const auto r = s->collect_reply();
    const auto t1 = now_ms();

    BOOST_TEST(r.reasoning == "r0 r1 r2 ");
    BOOST_TEST(r.text == default_text);
    // Reasoning and token frames share the session's seq (section 2).
    BOOST_TEST(check_seqs(r, 0) == 13);
    check_token_frames(r, "r-1", t0, t1);
    bool seen_token = false;
    for (const auto& t : r.tokens) {
        const auto type = string_of(t, "type");
        if (type == "token")
            seen_token = true;
        BOOST_TEST(!(seen_token && type == "reasoning"), "reasoning after a token: " << t);
    }
    check_stop_end(r, 8, f.mock_stats());
}

BOOST_AUTO_TEST_CASE(content_as_lists_of_parts_streams_thinking_and_text, *scaled_timeout(60))
{
    // Mistral's reasoning models send delta.content as a list of parts: thinking parts
    // are reasoning frames, text parts tokens, each exact and in order.
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("think in parts mock:parts mock:reasoning=3 mock:tokens=5"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.reasoning == "r0 r1 r2 ");
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 ");
    BOOST_TEST(check_seqs(r, 0) == 10); // the user frame, 8 frames, the stream_end
    BOOST_TEST(string_of(r.end, "reason") == "stop");
}

BOOST_AUTO_TEST_CASE(a_refusal_streams_as_refusal_frames_and_joins_the_history, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("refuse me mock:refusal mock:tokens=3"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.refusal == "w0 w1 w2 ");
    BOOST_TEST(r.text.empty());
    BOOST_TEST(check_seqs(r, 0) == 5); // the user frame, 3 refusal frames, the stream_end
    for (const auto& t : r.tokens)
        BOOST_TEST(string_of(t, "type") == "refusal", t);
    BOOST_TEST(string_of(r.end, "reason") == "stop");

    // The refusal is what the model said: the next chat's context has it as the reply.
    s->send(chat("again mock:echo"));
    const auto echoed = echoed_messages(s->collect_reply());
    BOOST_REQUIRE(echoed.is_array());
    BOOST_REQUIRE_EQUAL(echoed.as_array().size(), 3u);
    BOOST_TEST(echoed.as_array()[1].at("role").as_string() == "assistant");
    BOOST_TEST(echoed.as_array()[1].at("content").as_string() == "w0 w1 w2 ");
}

BOOST_AUTO_TEST_CASE(finish_reasons_map_to_end_reasons, *scaled_timeout(60))
{
    // Section 2: a reply that ends asking for tools, or cut by the provider's filter, says
    // so instead of looking like a plain stop; reasons the protocol does not name are one.
    relay_fixture f;
    auto s = f.open_session();
    for (const auto& [finish, end] :
         {std::pair{"tool_calls", "tool_calls"},
          std::pair{"function_call", "tool_calls"},
          std::pair{"content_filter", "content_filter"},
          std::pair{"something_new", "stop"}}) {
        s->send(chat(std::string("ends mock:tokens=2 mock:finish=") + finish));
        const auto r = s->collect_reply();
        BOOST_TEST(r.text == "w0 w1 ");
        BOOST_TEST(string_of(r.end, "reason") == end, finish);
    }
}

BOOST_AUTO_TEST_CASE(ping_answers_pong_with_client_timestamp, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();

    const auto t0 = now_ms();
    s->send({{"type", "ping"}, {"timestamp", 1700000000123}});
    auto pong = s->read();
    const auto t1 = now_ms();
    BOOST_TEST(string_of(pong, "type") == "pong");
    BOOST_TEST(number(pong.at("client_timestamp")) == 1700000000123.0);
    BOOST_TEST(integer(pong, "timestamp") >= t0 - 1000);
    BOOST_TEST(integer(pong, "timestamp") <= t1 + 1000);

    s->send({{"type", "ping"}, {"timestamp", 12.25}});
    pong = s->read();
    BOOST_TEST(string_of(pong, "type") == "pong");
    BOOST_TEST(number(pong.at("client_timestamp")) == 12.25);

    s->send({{"type", "ping"}});
    pong = s->read();
    BOOST_TEST(string_of(pong, "type") == "pong");
    BOOST_TEST(!pong.contains("client_timestamp"), "pong " << pong);

    // A ping while a reply streams is answered without disturbing the stream.
    s->send(chat("slowly mock:tokens=10 mock:interval=20"));
    s->send({{"type", "ping"}, {"timestamp", 77}});
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 ");
    BOOST_TEST(check_seqs(r, 0) == 12);
    int pongs = 0;
    for (const auto& fr : r.frames) {
        if (string_of(fr, "type") == "pong") {
            ++pongs;
            BOOST_TEST(number(fr.at("client_timestamp")) == 77.0);
        }
    }
    BOOST_TEST(pongs == 1);
}

BOOST_AUTO_TEST_CASE(upstream_framing_variants_give_exact_text, *scaled_timeout(120))
{
    // PROTOCOL.md section 6: SSE per the HTML standard (LF, CRLF, CR, comments, event:
    // fields), any split of the bytes; empty deltas are no tokens; usage with
    // choices [] or null.
    relay_fixture f;
    const char* variants[] = {
        "mock:lineend=crlf",
        "mock:lineend=cr",
        "mock:bytewise",
        "mock:bytewise mock:lineend=crlf",
        "mock:bytewise mock:lineend=cr",
        "mock:comments",
        "mock:comments mock:lineend=cr",
        "mock:empty_deltas",
        "mock:usage_null_choices",
    };
    for (const char* v : variants) {
        BOOST_TEST_CONTEXT(v)
        {
            auto s = f.open_session();
            s->send(chat(std::string("variant ") + v));
            const auto r = s->collect_reply();
            BOOST_TEST(r.text == default_text);
            BOOST_TEST(r.errors.empty());
            BOOST_TEST(check_seqs(r, 0) == 10);
            check_stop_end(r, 8, f.mock_stats());
        }
    }
}

BOOST_AUTO_TEST_CASE(finish_reason_length_ends_with_length, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("cut short mock:tokens=2 mock:finish=length"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(check_seqs(r, 0) == 4);
    BOOST_TEST(string_of(r.end, "reason") == "length");
}

BOOST_AUTO_TEST_CASE(messages_reach_upstream_unchanged, *scaled_timeout(60))
{
    // mock:echo replies with the messages array the mock parsed: non-ASCII text, quotes,
    // backslashes and newlines must survive both directions.
    relay_fixture f;
    auto s = f.open_session();
    const json::array context{
        turn("system", "Quotes \" and \\ backslash\nnew line\ttab"),
        turn("user", "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80"),
        turn("assistant", "</script><b>&amp;"),
    };
    auto msg = chat("echo it mock:echo");
    msg["context"] = context;
    s->send(msg);
    const auto r = s->collect_reply();
    auto expected = context;
    expected.push_back(turn("user", "echo it mock:echo"));
    error_code ec;
    const auto echoed = json::parse(r.text, ec);
    BOOST_TEST_REQUIRE(!ec, r.text);
    BOOST_TEST(echoed == json::value(expected));
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    BOOST_TEST(check_seqs(r, 0, false) == 3);
}

BOOST_AUTO_TEST_CASE(
    a_chat_with_an_image_goes_upstream_and_stays_in_the_history, *scaled_timeout(60)
)
{
    // Section 9: a 2 MiB image with the default limits, as content parts; the text alone
    // is still held to --max-message-bytes.
    relay_fixture f;
    auto s = f.open_session();
    const std::string url = "data:image/png;base64," + std::string(2 << 20, 'A');
    json::object text_part{{"type", "text"}, {"text", "what is this? mock:tokens=2"}};
    json::object image_part{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}};
    const json::array parts{text_part, image_part};
    json::object msg{{"type", "chat"}, {"id", "img1"}, {"content", parts}};
    s->send(msg);
    const auto r = s->collect_reply();
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_REQUIRE(r.user.has_value());
    BOOST_TEST(r.user->at("content") == json::value(parts));
    const auto sent = f.mock_stats().at("last_body").at("messages").as_array();
    BOOST_TEST(sent.back().at("content") == json::value(parts));

    // The history keeps it, and the next chat sends it upstream again as context.
    s->send({{"type", "history"}});
    const auto history = s->read_until("history");
    const auto& turns = history.at("messages").as_array();
    BOOST_REQUIRE_EQUAL(turns.size(), 2u);
    BOOST_TEST(turns[0].at("content") == json::value(parts));
    s->send(chat("and now? mock:tokens=1"));
    s->collect_reply();
    const auto again = f.mock_stats().at("last_body").at("messages").as_array();
    BOOST_REQUIRE_EQUAL(again.size(), 3u);
    BOOST_TEST(again[0].at("content") == json::value(parts));

    // Text alone past the message limit still closes the connection with 1009.
    s->send(chat(std::string(70000, 't')));
    s->expect_close(1009);
}

BOOST_AUTO_TEST_CASE(large_reply_arrives_whole, *scaled_timeout(120))
{
    // 300000 bytes in tokens of 64 'x': 4688 tokens, whatever the relay joins (section 5).
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("big mock:huge=300000"));
    const auto r = s->collect_reply(60s);
    BOOST_TEST(r.text.size() == 300000u);
    BOOST_TEST(r.text == std::string(300000, 'x'));
    BOOST_TEST_REQUIRE(r.user.has_value());
    std::int64_t prev = integer(*r.user, "seq");
    std::size_t bytes = 0;
    for (const auto& t : r.tokens) {
        const auto seq = integer(t, "seq");
        bytes += string_of(t, "content").size();
        // Tokens are 64 bytes except the last, so a seq names how many bytes precede it
        // (after the user frame's seq 1).
        const auto tokens_so_far = 1 + static_cast<std::int64_t>((bytes + 63) / 64);
        BOOST_TEST(seq == tokens_so_far, "frame ending at byte " << bytes);
        BOOST_TEST(seq > prev);
        prev = seq;
    }
    BOOST_TEST(prev == 4689);
    BOOST_TEST(integer(r.end, "seq") == 4690);
    BOOST_TEST(string_of(r.end, "reason") == "stop");
}

} // namespace
} // namespace tokenrelay::test
