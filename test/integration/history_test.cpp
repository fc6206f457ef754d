// What a session remembers between messages: its conversation, sent upstream when a chat
// has no context (PROTOCOL.md section 4), and its message budget (--rate-limit, section
// 7). The mock's `mock:echo` answers with the exact messages array it received.

#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

/// Sends `frame` and returns the whole reply, checking it ended normally.
reply ask(ws_client& ws, const json::object& frame)
{
    ws.send(frame);
    auto r = ws.collect_reply();
    BOOST_TEST(r.errors.empty(), "errors in reply: " << r.errors.size());
    BOOST_TEST(string_of(r.end, "reason") == "stop", "stream_end " << r.end);
    return r;
}

BOOST_AUTO_TEST_CASE(history_goes_upstream_without_context, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const auto r1 = ask(*s.ws, chat_frame("first question mock:tokens=3"));
    BOOST_TEST(r1.text == "w0 w1 w2 ");

    const auto r2 = ask(*s.ws, chat_frame("second question mock:echo"));
    const json::array expected{
        turn("user", "first question mock:tokens=3"),
        turn("assistant", "w0 w1 w2 "),
        turn("user", "second question mock:echo"),
    };
    BOOST_TEST(echoed_messages(r2) == json::value(expected));
    // The mock saw the same thing the echo says (the echo is not the relay's own story).
    const auto stats = f.mock_stats();
    BOOST_TEST(stats.at("last_body").as_object().at("messages") == json::value(expected));
}

BOOST_AUTO_TEST_CASE(
    next_chat_on_stream_end_is_not_busy_while_upstream_lingers, *scaled_timeout(60)
)
{
    // Section 2: after stream_end the session takes the next chat at once. The mock holds
    // the HTTP response open for 3 s after [DONE]; the relay must not make the client wait
    // for that teardown (nor refuse with `busy`), and the reply is already in the history.
    relay_fixture f;
    auto s = f.open_session();
    const auto r1 = ask(*s.ws, chat_frame("first mock:tokens=2 mock:linger=3000"));
    BOOST_TEST(r1.text == "w0 w1 ");
    const auto r2 = ask(*s.ws, chat_frame("second mock:echo"));
    const json::array expected{
        turn("user", "first mock:tokens=2 mock:linger=3000"),
        turn("assistant", "w0 w1 "),
        turn("user", "second mock:echo"),
    };
    BOOST_TEST(echoed_messages(r2) == json::value(expected));
    // One upstream request each. The relay waits only briefly for a finished body's end
    // before it gives that connection up, so the lingering one ends aborted.
    f.mock_wait("completed", 1);
    const auto stats = f.mock_wait("aborted", 1);
    BOOST_TEST(integer(stats, "requests") == 2);
    BOOST_TEST(integer(stats, "completed") == 1);
}

BOOST_AUTO_TEST_CASE(context_is_used_exactly_and_both_join_history, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const auto r1 = ask(*s.ws, chat_frame("one mock:tokens=2"));
    BOOST_TEST(r1.text == "w0 w1 ");

    // With context: exactly that context, no session history.
    const json::array context{
        turn("system", "Be brief."),
        turn("user", "made-up earlier question"),
        turn("assistant", "made-up earlier answer"),
    };
    const auto r2 = ask(*s.ws, chat_frame("two mock:echo", context));
    auto expected2 = context;
    expected2.push_back(turn("user", "two mock:echo"));
    BOOST_TEST(echoed_messages(r2) == json::value(expected2));

    // An empty context is a context too: only the new message goes up.
    const auto r3 = ask(*s.ws, chat_frame("three mock:echo", json::array{}));
    BOOST_TEST(echoed_messages(r3) == json::value(json::array{turn("user", "three mock:echo")}));

    // Either way the chat and its reply joined the session's history (section 4); the
    // given context itself did not.
    const auto r4 = ask(*s.ws, chat_frame("four mock:echo"));
    const json::array expected4{
        turn("user", "one mock:tokens=2"),
        turn("assistant", "w0 w1 "),
        turn("user", "two mock:echo"),
        turn("assistant", r2.text),
        turn("user", "three mock:echo"),
        turn("assistant", r3.text),
        turn("user", "four mock:echo"),
    };
    BOOST_TEST(echoed_messages(r4) == json::value(expected4));
}

BOOST_AUTO_TEST_CASE(cancelled_reply_is_kept_as_far_as_it_got, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat_frame("long story mock:tokens=2000 mock:interval=20"));
    seq_follower follow;
    BOOST_TEST_REQUIRE(!follow.read_words(*s.ws, 3));
    s->send({{"type", "cancel"}});
    follow.read_to_end(*s.ws);
    follow.check_clean();
    BOOST_TEST(string_of(follow.end(), "reason") == "cancelled");
    const auto partial = follow.text();
    BOOST_TEST(follow.words() >= 3);
    BOOST_TEST(follow.words() < 2000);
    BOOST_TEST(partial == mock_words(static_cast<int>(follow.words())));
    // Section 2: the upstream request is closed at once.
    f.mock_wait("aborted", 1);

    const auto r = ask(*s.ws, chat_frame("go on mock:echo"));
    const json::array expected{
        turn("user", "long story mock:tokens=2000 mock:interval=20"),
        turn("assistant", partial),
        turn("user", "go on mock:echo"),
    };
    BOOST_TEST(echoed_messages(r) == json::value(expected));
}

BOOST_AUTO_TEST_CASE(history_survives_a_reconnect, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const auto id = string_of(s.frame, "session");
    const auto r1 = ask(*s.ws, chat_frame("remember this mock:tokens=2"));
    BOOST_TEST(r1.text == "w0 w1 ");
    const auto end1 = integer(r1.end, "seq");
    s->drop();

    // Query-string resume, then a chat without context: the earlier turns go up.
    ws_client b;
    BOOST_TEST(b.connect(f.port(), resume_target(id, end1)).at("resumed") == json::value(true));
    const auto r2 = ask(b, chat_frame("what was it mock:echo"));
    const json::array expected2{
        turn("user", "remember this mock:tokens=2"),
        turn("assistant", "w0 w1 "),
        turn("user", "what was it mock:echo"),
    };
    BOOST_TEST(echoed_messages(r2) == json::value(expected2));
    const auto end2 = integer(r2.end, "seq");
    b.close();

    // Resume frame on another connection (closed cleanly this time): still all there.
    ws_client c;
    c.connect(f.port());
    c.send(resume_frame(id, end2));
    const auto frame = c.read();
    BOOST_TEST(string_of(frame, "type") == "session");
    BOOST_TEST(frame.at("resumed") == json::value(true));
    BOOST_TEST(string_of(frame, "session") == id);
    const auto r3 = ask(c, chat_frame("and now mock:echo"));
    auto expected3 = expected2;
    expected3.push_back(turn("assistant", r2.text));
    expected3.push_back(turn("user", "and now mock:echo"));
    BOOST_TEST(echoed_messages(r3) == json::value(expected3));

    // A new session starts with no history.
    auto fresh = f.open_session();
    const auto r4 = ask(*fresh.ws, chat_frame("who am i mock:echo"));
    BOOST_TEST(echoed_messages(r4) == json::value(json::array{turn("user", "who am i mock:echo")}));
}

void expect_rate_limited(ws_client& ws, const std::string& id)
{
    auto msg = chat_frame("one too many mock:tokens=1");
    msg["id"] = id;
    ws.send(msg);
    const auto err = ws.read();
    BOOST_TEST(string_of(err, "type") == "error", "frame " << err);
    BOOST_TEST(string_of(err, "code") == "rate_limited", "frame " << err);
    BOOST_TEST(string_of(err, "id") == id, "frame " << err);
    BOOST_TEST(!string_of(err, "message").empty());
    BOOST_TEST(integer(err, "retry_after_ms") > 0, "frame " << err);
    // --rate-limit 3: one message every 20 s comes back.
    BOOST_TEST(integer(err, "retry_after_ms") <= 20000, "frame " << err);
    // Refused, not started: no stream_end follows; the ping's answer is next.
    ws.send({{"type", "ping"}, {"timestamp", 5}});
    const auto pong = ws.read();
    BOOST_TEST(string_of(pong, "type") == "pong", "frame " << pong);
}

BOOST_AUTO_TEST_CASE(rate_limit_refuses_per_session_across_reconnects, *scaled_timeout(60))
{
    relay_fixture f({.flags = {"--rate-limit", "3"}});
    auto s = f.open_session();
    const auto id = string_of(s.frame, "session");
    std::int64_t seq = 0;
    for (int i = 0; i < 3; ++i) {
        const auto r = ask(*s.ws, chat_frame("allowed " + std::to_string(i) + " mock:tokens=1"));
        BOOST_TEST(r.text == "w0 ");
        seq = integer(r.end, "seq");
    }
    expect_rate_limited(*s.ws, "over-1");
    BOOST_TEST(integer(f.mock_stats(), "requests") == 3);

    // The budget belongs to the session: a reconnect does not refill it.
    s->drop();
    ws_client b;
    BOOST_TEST(b.connect(f.port(), resume_target(id, seq)).at("resumed") == json::value(true));
    expect_rate_limited(b, "over-2");

    // Another session has its own.
    auto other = f.open_session();
    const auto r = ask(*other.ws, chat_frame("other session mock:tokens=2"));
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(integer(f.mock_stats(), "requests") == 4);
}

BOOST_AUTO_TEST_CASE(rate_limit_recovers_after_retry_after, *scaled_timeout(120))
{
    // --rate-limit 60: a burst of 60, then one message per second.
    relay_fixture f({.flags = {"--rate-limit", "60"}});
    auto s = f.open_session();
    const auto started = std::chrono::steady_clock::now();
    int accepted = 0;
    json::object refusal;
    for (int i = 0; i < 200 && refusal.empty(); ++i) {
        auto msg = chat_frame("burst " + std::to_string(i) + " mock:tokens=1");
        msg["id"] = "b" + std::to_string(i);
        s->send(msg);
        auto first = s->read();
        if (string_of(first, "type") == "error") {
            refusal = std::move(first);
            break;
        }
        // Accepted: its user frame, and its reply ends this round.
        BOOST_TEST_REQUIRE(string_of(first, "type") == "user", "frame " << first);
        BOOST_TEST_REQUIRE(string_of(s->read(), "type") == "token");
        const auto end = s->read();
        BOOST_TEST_REQUIRE(string_of(end, "type") == "stream_end", "frame " << end);
        ++accepted;
    }
    const auto elapsed_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    BOOST_TEST_REQUIRE(!refusal.empty(), "never refused after " << accepted << " messages");
    BOOST_TEST(string_of(refusal, "code") == "rate_limited", "frame " << refusal);
    // The burst, plus at most one refill per second that passed.
    BOOST_TEST(accepted >= 60);
    BOOST_TEST(accepted <= 60 + elapsed_s + 1);
    const auto retry = integer(refusal, "retry_after_ms");
    BOOST_TEST(retry > 0, "frame " << refusal);
    BOOST_TEST(retry <= 1000, "frame " << refusal);

    // Waiting the time the relay stated (not a guess) makes room for one more.
    std::this_thread::sleep_for(std::chrono::milliseconds(retry));
    const auto r = ask(*s.ws, chat_frame("after the wait mock:tokens=2"));
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(integer(f.mock_stats(), "requests") == accepted + 1);
}

} // namespace
} // namespace tokenrelay::test
