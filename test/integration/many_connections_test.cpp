// Every tab and device on one conversation (PROTOCOL.md sections 2 to 5): several
// connections share a session, each gets every frame in seq order at its own pace, a chat
// from one shows as a `user` frame in all, `history` rebuilds the conversation, the cap
// closes the oldest with 4001, and a connection that stops reading slows no other (4002
// once the log has dropped what it had not sent). Real relay, real mock upstream.

#include "support/metric_samples.hpp"
#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

json::object chat_with_id(std::string content, std::string id)
{
    auto f = chat_frame(std::move(content));
    f["id"] = std::move(id);
    return f;
}

/// Joins session `id` from seq `last_seq` and checks the session frame's connection count.
std::unique_ptr<ws_client>
join(relay_fixture& f, const std::string& id, std::int64_t last_seq, std::int64_t connections)
{
    auto ws = std::make_unique<ws_client>();
    const auto frame = ws->connect(f.port(), resume_target(id, last_seq));
    BOOST_TEST(string_of(frame, "session") == id, "frame " << frame);
    BOOST_TEST(frame.at("resumed") == json::value(true), "frame " << frame);
    BOOST_TEST(integer(frame, "connections") == connections, "frame " << frame);
    return ws;
}

/// What a connection saw of one chat: its user frame, then the words with their seqs.
struct seen
{
    json::object user;
    std::vector<std::pair<std::int64_t, std::string>> words;
    std::int64_t end_seq = 0;
    std::string reason;
};

seen follow_chat(ws_client& ws, std::int64_t seq_before)
{
    seq_follower follow(seq_before);
    seen s;
    for (;;) {
        auto frame = ws.read();
        if (string_of(frame, "type") == "user")
            s.user = frame;
        if (follow.feed(frame))
            break;
    }
    follow.check_clean();
    s.words = follow.seq_words();
    s.end_seq = integer(follow.end(), "seq");
    s.reason = string_of(follow.end(), "reason");
    return s;
}

/// Reads frames until the stream_end; the text of its tokens and the seqs of the
/// user, token and stream_end frames, which must follow one another exactly.
struct raw_reply
{
    std::string text;
    std::int64_t first_seq = 0;
    std::int64_t last_seq = 0; // of the last frame read
    std::int64_t end_seq = 0;
    bool closed = false;             // the relay closed before the stream_end
    std::uint16_t close_code = 0;    // its close code then
    std::vector<std::string> faults; // seq gaps and unexpected frames
};

raw_reply read_raw_reply(raw_ws& ws, std::int64_t seq_before)
{
    raw_reply r;
    std::int64_t prev = seq_before;
    for (;;) {
        auto frame = ws.read_frame(scaled(60s));
        if (!frame) {
            r.closed = true;
            return r;
        }
        if (frame->opcode == ws_opcode::close) {
            r.closed = true;
            r.close_code = frame->close_code();
            return r;
        }
        const auto o = json::parse(frame->payload).as_object();
        const auto type = string_of(o, "type");
        const auto seq = integer(o, "seq");
        if (r.first_seq == 0)
            r.first_seq = seq;
        if (type == "token") {
            const auto content = string_of(o, "content");
            r.text += content;
            // mock:huge tokens are 64 'x' each, so a joined frame's seq grows by its count.
            const auto tokens = static_cast<std::int64_t>((content.size() + 63) / 64);
            if (prev != seq_before && seq != prev + tokens)
                r.faults.push_back(
                    "token " + std::to_string(seq) + " after " + std::to_string(prev)
                );
        } else if (type == "user" || type == "stream_end") {
            if (prev != seq_before && seq != prev + 1)
                r.faults.push_back(
                    type + " " + std::to_string(seq) + " after " + std::to_string(prev)
                );
        } else {
            r.faults.push_back("unexpected " + frame->payload);
        }
        prev = seq;
        r.last_seq = seq;
        if (type == "stream_end") {
            r.end_seq = seq;
            return r;
        }
    }
}

BOOST_AUTO_TEST_CASE(every_connection_gets_the_same_frames_and_the_question, *scaled_timeout(120))
{
    relay_fixture f;
    auto a = f.open_session();
    BOOST_TEST(integer(a.frame, "connections") == 1);
    const auto id = string_of(a.frame, "session");
    auto b = join(f, id, 0, 2);
    auto c = join(f, id, 0, 3);

    // A chat from B: every connection, A and C too, gets its user frame first, then the
    // same words with the same seqs.
    b->send(chat_with_id("from b mock:tokens=30 mock:interval=5", "q-b"));
    const auto seen_a = follow_chat(*a.ws, 0);
    const auto seen_b = follow_chat(*b, 0);
    const auto seen_c = follow_chat(*c, 0);
    for (const auto* s : {&seen_a, &seen_b, &seen_c}) {
        BOOST_TEST(string_of(s->user, "id") == "q-b");
        BOOST_TEST(string_of(s->user, "content") == "from b mock:tokens=30 mock:interval=5");
        BOOST_TEST(integer(s->user, "seq") == 1);
        BOOST_TEST(s->user.contains("timestamp"));
        BOOST_TEST(s->words == seen_a.words);
        BOOST_TEST(s->end_seq == 32);
        BOOST_TEST(s->reason == "stop");
    }
    std::string text;
    for (const auto& [seq, word] : seen_a.words)
        text += word;
    BOOST_TEST(text == mock_words(30));

    // A second chat, from C, continues the seqs in all three.
    c->send(chat_frame("from c mock:tokens=5"));
    for (ws_client* ws : {a.ws.get(), b.get(), c.get()}) {
        const auto s = follow_chat(*ws, 32);
        BOOST_TEST(string_of(s.user, "content") == "from c mock:tokens=5");
        BOOST_TEST(string_of(s.user, "id") == "m1"); // assigned by the relay
        BOOST_TEST(s.end_seq == 39);
    }
    BOOST_TEST(integer(f.mock_stats(), "requests") == 2);
}

BOOST_AUTO_TEST_CASE(busy_goes_to_the_sender_only_and_any_connection_cancels, *scaled_timeout(120))
{
    relay_fixture f;
    auto a = f.open_session();
    const auto id = string_of(a.frame, "session");
    auto b = join(f, id, 0, 2);

    a->send(chat_with_id("long mock:tokens=2000 mock:interval=20", "long"));
    BOOST_TEST(string_of(b->read_until("user"), "id") == "long");
    b->read_until("token"); // the upstream request is streaming

    // B's chat while A's runs: busy, to B alone.
    b->send(chat_with_id("too soon", "soon"));
    const auto busy = b->read_until("error");
    BOOST_TEST(string_of(busy, "code") == "busy");
    BOOST_TEST(string_of(busy, "id") == "soon");

    // B cancels A's reply: both get the cancelled stream_end, the upstream request closes.
    b->send({{"type", "cancel"}});
    const auto on_a = a->collect_reply();
    const auto on_b = b->collect_reply();
    BOOST_TEST(string_of(on_a.end, "reason") == "cancelled");
    BOOST_TEST(on_b.end == on_a.end);
    BOOST_TEST(
        on_a.errors.empty(),
        "A got an error: " << (on_a.errors.empty() ? json::object{} : on_a.errors[0])
    );
    BOOST_TEST(on_b.errors.empty());
    BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") == 1);
}

BOOST_AUTO_TEST_CASE(past_the_cap_the_oldest_connection_is_closed_with_4001, *scaled_timeout(120))
{
    relay_fixture f{{.flags = {"--max-connections-per-session", "2"}}};
    auto a = f.open_session();
    const auto id = string_of(a.frame, "session");
    auto b = join(f, id, 0, 2);
    auto c = join(f, id, 0, 2); // A made room: it is not counted
    a->expect_close(4001);

    // The two left share the session.
    c->send(chat_frame("after the cap mock:tokens=4"));
    BOOST_TEST(follow_chat(*b, 0).end_seq == 6);
    BOOST_TEST(follow_chat(*c, 0).end_seq == 6);
    BOOST_TEST(scrape_metrics(f.port()).at("tokenrelay_sessions_taken_over_total") == 1);
}

BOOST_AUTO_TEST_CASE(a_connection_that_stops_reading_delays_no_other, *scaled_timeout(300))
{
    relay_fixture f{{.flags = {"--outbound-backlog-bytes", "65536"}}};
    auto a = f.open_session();
    const auto id = string_of(a.frame, "session");
    // B reads its session frame and then nothing, through a small receive window: the
    // relay soon has megabytes for it that it cannot write.
    raw_ws b(f.port(), resume_target(id, 0), {.receive_buffer = 4096});
    const auto b_session = b.read_frame(scaled(10s));
    BOOST_TEST_REQUIRE(b_session.has_value());

    // Past what the sockets' buffers and the backlog limit hold for B: were the upstream
    // paused for B, A would stall. Within what the log holds (16 MiB, 112 bytes a token).
    constexpr int bytes = 8'000'000;
    a->send(chat_frame("big mock:huge=" + std::to_string(bytes)));
    const auto on_a = a->collect_reply(120s);
    BOOST_TEST(on_a.text == std::string(bytes, 'x'));
    BOOST_TEST(string_of(on_a.end, "reason") == "stop");

    // B then reads everything, exactly: the log held it.
    const auto on_b = read_raw_reply(b, 0);
    BOOST_TEST(!on_b.closed);
    BOOST_TEST(
        on_b.faults.empty(),
        on_b.faults.size() << " faults, first: " << (on_b.faults.empty() ? "" : on_b.faults[0])
    );
    BOOST_TEST(on_b.first_seq == 1);
    BOOST_TEST(on_b.text == on_a.text);
    BOOST_TEST(on_b.end_seq == integer(on_a.end, "seq"));
}

BOOST_AUTO_TEST_CASE(
    a_connection_the_log_left_behind_is_closed_with_4002_and_resumes, *scaled_timeout(300)
)
{
    relay_fixture f{{.flags = {"--replay-log-bytes", "1048576"}}};
    auto a = f.open_session();
    const auto id = string_of(a.frame, "session");
    raw_ws b(f.port(), resume_target(id, 0), {.receive_buffer = 4096});
    BOOST_TEST_REQUIRE(b.read_frame(scaled(10s)).has_value());

    constexpr int bytes = 8'000'000;
    a->send(chat_frame("big mock:huge=" + std::to_string(bytes)));
    const auto on_a = a->collect_reply(120s);
    BOOST_TEST(on_a.text == std::string(bytes, 'x'));
    const auto end_seq = integer(on_a.end, "seq");

    // The log kept only its last MiB: B gets what was already on its way, then 4002.
    const auto head = read_raw_reply(b, 0);
    BOOST_TEST_REQUIRE(head.closed);
    BOOST_TEST(head.close_code == 4002);
    BOOST_TEST(head.faults.empty());
    const auto had = head.last_seq;

    // Resuming from there: first_seq says what is gone, the rest comes exactly.
    ws_client again;
    const auto frame = again.connect(f.port(), resume_target(id, had));
    BOOST_TEST(integer(frame, "first_seq") > had + 1, "frame " << frame);
    const auto tail = again.collect_reply(120s);
    BOOST_TEST(check_seqs(tail, integer(frame, "first_seq") - 1, false) == end_seq);
    BOOST_TEST(tail.text == std::string(tail.text.size(), 'x'));
    BOOST_TEST(tail.text.size() > 0u);
    BOOST_TEST(scrape_metrics(f.port()).at("tokenrelay_connections_too_slow_total") == 1);
}

BOOST_AUTO_TEST_CASE(
    history_rebuilds_the_conversation_for_a_tab_joining_mid_reply, *scaled_timeout(120)
)
{
    relay_fixture f;
    auto a = f.open_session();
    const auto id = string_of(a.frame, "session");

    // Nothing yet: an empty history.
    a->send({{"type", "history"}});
    const auto empty = a->read();
    BOOST_TEST(empty == json::parse(R"({"type":"history","messages":[],"through_seq":0})"));

    a->send(chat_with_id("first mock:tokens=3", "c1"));
    BOOST_TEST(a->collect_reply().end.at("seq").as_int64() == 5);
    a->send(chat_with_id("second mock:tokens=4", "c2"));
    BOOST_TEST(a->collect_reply().end.at("seq").as_int64() == 11);
    a->send(chat_with_id("third mock:tokens=40 mock:interval=20", "c3"));
    seq_follower on_a(11);
    BOOST_TEST_REQUIRE(!on_a.read_words(*a.ws, 5));

    // A new tab mid-reply: resume from 0, ask for history, apply what is above through_seq.
    auto b = join(f, id, 0, 2);
    b->send({{"type", "history"}});
    std::vector<json::object> log_frames;
    const auto history = b->read_until("history", &log_frames);
    const auto expected =
        json::parse(R"({"type":"history","messages":[)"
                    R"({"role":"user","content":"first mock:tokens=3","id":"c1"},)"
                    R"({"role":"assistant","content":"w0 w1 w2 ","id":"c1"},)"
                    R"({"role":"user","content":"second mock:tokens=4","id":"c2"},)"
                    R"({"role":"assistant","content":"w0 w1 w2 w3 ","id":"c2"}],)"
                    R"("through_seq":11})");
    BOOST_TEST(json::value(history) == expected);

    seq_follower on_b(11);
    for (const auto& frame : log_frames)
        if (integer(frame, "seq") > 11)
            on_b.feed(frame);
    on_b.read_to_end(*b);
    on_a.read_to_end(*a.ws);
    on_a.check_clean();
    on_b.check_clean();
    BOOST_TEST(on_b.text() == mock_words(40));
    BOOST_TEST(on_b.seq_words() == on_a.seq_words());

    // Once it ended, the third turn is in the history too.
    b->send({{"type", "history"}});
    const auto after = b->read_until("history");
    BOOST_TEST(integer(after, "through_seq") == integer(on_a.end(), "seq"));
    const auto& messages = after.at("messages").as_array();
    BOOST_TEST_REQUIRE(messages.size() == 6u);
    BOOST_TEST(
        messages[4] ==
        json::parse(R"({"role":"user","content":"third mock:tokens=40 mock:interval=20","id":"c3"})"
        )
    );
    BOOST_TEST(messages[5].at("content").as_string() == mock_words(40));
}

} // namespace
} // namespace tokenrelay::test
