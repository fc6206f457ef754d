#include <tokenrelay/session/replay_log.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace json = boost::json;
using tokenrelay::errc;
using tokenrelay::session::entry_kind;
using tokenrelay::session::replay_log;
namespace protocol = tokenrelay::protocol;

namespace {

tokenrelay::protocol::stream_end_fields
end_fields(std::string id, std::string reason, std::int64_t ttft_ms, std::int64_t total_ms)
{
    tokenrelay::protocol::stream_end_fields end;
    end.id = std::move(id);
    end.reason = std::move(reason);
    end.ttft_ms = ttft_ms;
    end.total_ms = total_ms;
    return end;
}

struct replayed
{
    std::string text;      // token contents in order
    std::string reasoning; // reasoning contents in order
    std::vector<std::uint64_t> seqs;
    std::vector<std::string> types;
    std::vector<std::string> ids; // each frame's id, "" when it has none
    std::size_t frames = 0;
};

/// Drains the log from `cursor` in batches of `batch` bytes, as a writer would.
replayed drain(const replay_log& log, std::uint64_t cursor, std::size_t batch)
{
    replayed r;
    for (int guard = 0; guard < 10000; ++guard) {
        tokenrelay::protocol::frame_batch out;
        const auto next = log.collect(cursor, batch, 1000, out);
        if (out.empty()) {
            BOOST_TEST(next == cursor);
            break;
        }
        for (const auto& frame : out) {
            const auto v = json::parse(frame).as_object();
            const std::string type(v.at("type").as_string());
            r.types.push_back(type);
            if (type == "token")
                r.text += v.at("content").as_string();
            if (type == "reasoning")
                r.reasoning += v.at("content").as_string();
            if (v.contains("seq"))
                r.seqs.push_back(v.at("seq").to_number<std::uint64_t>());
            r.ids.emplace_back(v.contains("id") ? v.at("id").as_string() : "");
            ++r.frames;
        }
        BOOST_TEST(next > cursor);
        cursor = next;
    }
    return r;
}

/// One message: 2 reasoning tokens, 6 content tokens "t0 ".."t5 ", stream_end.
replay_log sample_log(std::uint64_t& end_seq)
{
    replay_log log;
    log.begin_message("m1");
    log.append_text(entry_kind::reasoning, "m1", "r0 ");
    log.append_text(entry_kind::reasoning, "m1", "r1 ");
    for (int i = 0; i < 6; ++i)
        log.append_text(entry_kind::token, "m1", "t" + std::to_string(i) + " ");
    end_seq = log.append_end(end_fields("m1", "stop", 5, 10));
    return log;
}

} // namespace

BOOST_AUTO_TEST_SUITE(replay_log_suite)

BOOST_AUTO_TEST_CASE(seqs_start_at_one_and_grow_by_one)
{
    std::uint64_t end_seq = 0;
    auto log = sample_log(end_seq);
    BOOST_TEST(end_seq == 9u);
    BOOST_TEST(log.first_seq() == 1u);
    BOOST_TEST(log.last_seq() == 9u);
}

BOOST_AUTO_TEST_CASE(a_user_entry_is_a_frame_of_its_own_before_the_tokens)
{
    replay_log log;
    log.begin_message("q1");
    BOOST_TEST(log.append_user("q1", "say \"hi\"") == 1u);
    log.append_text(entry_kind::token, "q1", "t0 ");
    log.append_text(entry_kind::token, "q1", "t1 ");
    BOOST_TEST(log.append_end(end_fields("q1", "stop", 1, 2)) == 4u);
    tokenrelay::protocol::frame_batch out;
    BOOST_TEST(log.collect(0, 1 << 20, 1000, out) == 4u);
    BOOST_REQUIRE(out.size() == 3u);
    BOOST_TEST(
        std::string(out[0]) ==
        R"({"type":"user","content":"say \"hi\"","timestamp":1000,"seq":1,"id":"q1"})"
    );
    const auto joined = json::parse(out[1]).as_object();
    BOOST_TEST(joined.at("type").as_string() == "token");
    BOOST_TEST(joined.at("content").as_string() == "t0 t1 ");
    BOOST_TEST(joined.at("seq").to_number<std::uint64_t>() == 3u);
}

BOOST_AUTO_TEST_CASE(empty_log_reports_zero)
{
    replay_log log;
    BOOST_TEST(log.first_seq() == 0u);
    BOOST_TEST(log.last_seq() == 0u);
    BOOST_TEST(log.bytes_after(0) == 0u);
    tokenrelay::protocol::frame_batch out;
    BOOST_TEST(log.collect(0, 1024, 0, out) == 0u);
    BOOST_TEST(out.empty());
}

// Every cursor position × every batch size: the replay after the cursor is exactly the
// suffix, with no gap and no duplicate, whatever the joining.
BOOST_AUTO_TEST_CASE(every_cursor_and_batch_size_replays_the_exact_suffix)
{
    std::uint64_t end_seq = 0;
    const auto log = sample_log(end_seq);
    const std::string all_reasoning = "r0 r1 ";
    const std::string all_text = "t0 t1 t2 t3 t4 t5 ";
    for (std::uint64_t cursor = 0; cursor <= end_seq; ++cursor) {
        for (std::size_t batch = 1; batch <= 400; batch += 7) {
            BOOST_TEST_CONTEXT("cursor " << cursor << " batch " << batch)
            {
                const auto r = drain(log, cursor, batch);
                // Seqs 1-2 are reasoning, 3-8 tokens, 9 the end.
                const std::size_t skipped_reasoning = std::min<std::uint64_t>(cursor, 2);
                const std::size_t skipped_tokens =
                    cursor > 2 ? std::min<std::uint64_t>(cursor - 2, 6) : 0;
                BOOST_TEST(r.reasoning == all_reasoning.substr(skipped_reasoning * 3));
                BOOST_TEST(r.text == all_text.substr(skipped_tokens * 3));
                if (cursor < end_seq) {
                    BOOST_REQUIRE(!r.seqs.empty());
                    BOOST_TEST(r.seqs.back() == end_seq);
                    BOOST_TEST(r.types.back() == "stream_end");
                    for (std::size_t i = 1; i < r.seqs.size(); ++i)
                        BOOST_TEST(r.seqs[i] > r.seqs[i - 1]);
                    BOOST_TEST(r.seqs.front() > cursor);
                } else {
                    BOOST_TEST(r.frames == 0u);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(waiting_tokens_are_joined_into_one_frame)
{
    std::uint64_t end_seq = 0;
    const auto log = sample_log(end_seq);
    tokenrelay::protocol::frame_batch out;
    const auto next = log.collect(0, 1 << 20, 42, out);
    BOOST_TEST(next == end_seq);
    BOOST_REQUIRE(out.size() == 3u); // reasoning, token, stream_end
    BOOST_TEST(
        out[1] ==
        R"({"type":"token","content":"t0 t1 t2 t3 t4 t5 ","timestamp":42,"seq":8,"id":"m1"})"
    );
}

BOOST_AUTO_TEST_CASE(tokens_of_different_messages_are_not_joined)
{
    replay_log log;
    log.begin_message("a");
    log.append_text(entry_kind::token, "a", "x");
    log.append_end(end_fields("a", "stop", 1, 1));
    log.begin_message("b");
    log.append_text(entry_kind::token, "b", "y");
    const auto r = drain(log, 0, 1 << 20);
    BOOST_TEST(r.text == "xy");
    BOOST_TEST(r.frames == 3u);
    BOOST_TEST((r.seqs == std::vector<std::uint64_t>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(an_error_frame_precedes_its_stream_end_and_carries_no_seq)
{
    replay_log log;
    log.begin_message("m");
    log.append_text(entry_kind::token, "m", "a");
    log.append_error(errc::upstream_error, "upstream answered 500", "m");
    const auto end = log.append_end(end_fields("m", "upstream_error", 1, 2));
    BOOST_TEST(end == 2u);
    // Even with a one-byte batch the error is never separated from its stream_end: a
    // cursor between them would skip the end.
    for (std::uint64_t cursor : {0u, 1u}) {
        const auto r = drain(log, cursor, 1);
        BOOST_REQUIRE(r.types.size() >= 2u);
        BOOST_TEST(r.types[r.types.size() - 2] == "error");
        BOOST_TEST(r.types.back() == "stream_end");
        BOOST_TEST(r.seqs.back() == 2u);
    }
    BOOST_TEST(drain(log, 2, 1).frames == 0u);
}

BOOST_AUTO_TEST_CASE(bytes_after_measures_the_unsent_backlog)
{
    replay_log log;
    log.begin_message("m");
    log.append_text(entry_kind::token, "m", std::string(100, 'a'));
    log.append_text(entry_kind::token, "m", std::string(50, 'b'));
    const auto all = log.bytes_after(0);
    const auto after_first = log.bytes_after(1);
    BOOST_TEST(all > after_first);
    BOOST_TEST(all - after_first >= 100u);
    BOOST_TEST(after_first >= 50u);
    BOOST_TEST(log.bytes_after(2) == 0u);
}

BOOST_AUTO_TEST_CASE(keeps_the_current_and_previous_message_only)
{
    replay_log log;
    for (int m = 1; m <= 3; ++m) {
        log.begin_message("m" + std::to_string(m));
        log.append_text(entry_kind::token, "m" + std::to_string(m), "x");
        log.append_end(end_fields("m" + std::to_string(m), "stop", 1, 1));
    }
    // Messages 2 and 3 hold seqs 3..6.
    BOOST_TEST(log.first_seq() == 3u);
    BOOST_TEST(log.last_seq() == 6u);
    const auto r = drain(log, 0, 1 << 20);
    BOOST_TEST((r.seqs == std::vector<std::uint64_t>{3, 4, 5, 6}));
}

BOOST_AUTO_TEST_CASE(the_byte_bound_drops_oldest_entries_first)
{
    replay_log log(2000);
    log.begin_message("m");
    for (int i = 0; i < 100; ++i)
        log.append_text(entry_kind::token, "m", std::string(100, 'a' + i % 26));
    BOOST_TEST(log.bytes() <= 2000u);
    BOOST_TEST(log.last_seq() == 100u);
    BOOST_TEST(log.first_seq() > 1u);
    // What is left is the newest entries, contiguous up to the last.
    const auto r = drain(log, 0, 1 << 20);
    BOOST_TEST(r.seqs.back() == 100u);
    BOOST_TEST(r.text.size() == (100 - log.first_seq() + 1) * 100);
}

// Ids and tokens longer than a short string's inline buffer: the log keeps one copy of
// each message id, and a frame still names its own message whatever the cut.
BOOST_AUTO_TEST_CASE(long_ids_and_tokens_replay_exactly_from_every_cursor)
{
    replay_log log;
    std::vector<std::string> ids;
    std::string all_text;
    std::vector<std::string> id_of_seq{""}; // seq -> message id
    for (int m = 0; m < 3; ++m) {
        ids.push_back("message-" + std::to_string(m) + std::string(40, 'a' + m));
        log.begin_message(ids.back());
        for (int t = 0; t < 5; ++t) {
            const auto text =
                "token " + std::to_string(m) + "." + std::to_string(t) + std::string(24, 'x') + " ";
            if (m > 0) // message 0 is dropped by the third begin_message
                all_text += text;
            log.append_text(entry_kind::token, ids.back(), text);
            id_of_seq.push_back(ids.back());
        }
        log.append_end(end_fields(ids.back(), "stop", 1, 1));
        id_of_seq.push_back(ids.back());
    }
    BOOST_TEST(log.first_seq() == 7u);
    for (std::uint64_t cursor = 6; cursor <= log.last_seq(); ++cursor) {
        for (std::size_t batch : {1u, 60u, 100u, 250u, 1u << 20}) {
            BOOST_TEST_CONTEXT("cursor " << cursor << " batch " << batch)
            {
                const auto r = drain(log, cursor, batch);
                // Seqs 7-11 and 13-17 are the kept tokens, 12 and 18 the ends.
                const auto skipped = std::min<std::uint64_t>(cursor - 6 - (cursor >= 12), 10);
                BOOST_TEST(r.text == all_text.substr(skipped * (all_text.size() / 10)));
                BOOST_REQUIRE(r.ids.size() == r.seqs.size());
                for (std::size_t i = 0; i < r.seqs.size(); ++i)
                    BOOST_TEST(r.ids[i] == id_of_seq.at(r.seqs[i]));
            }
        }
    }
}

// A long reply's storage is given back once its message leaves the log: what the log
// holds follows what it keeps, not the largest reply the session ever had.
BOOST_AUTO_TEST_CASE(storage_follows_the_kept_messages_not_the_largest_ever)
{
    replay_log log;
    log.begin_message("big");
    for (int i = 0; i < 20000; ++i)
        log.append_text(entry_kind::token, "big", std::string(50, 'b'));
    log.append_end(end_fields("big", "stop", 1, 1));
    const auto peak = log.storage_bytes();
    BOOST_TEST(peak >= 20000u * 50u);
    for (int m = 0; m < 2; ++m) {
        log.begin_message("small");
        log.append_text(entry_kind::token, "small", "s");
        log.append_end(end_fields("small", "stop", 1, 1));
    }
    BOOST_TEST(log.storage_bytes() < 16384u, "held " << log.storage_bytes() << " of " << peak);
    const auto r = drain(log, 0, 1 << 20);
    BOOST_TEST(r.text == "ss");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(replay_log_stored)

BOOST_AUTO_TEST_CASE(collect_stops_at_through_seq)
{
    replay_log log;
    log.begin_message("m1");
    log.append_user("m1", "hi");
    log.append_text(entry_kind::token, "m1", "a");
    log.append_text(entry_kind::token, "m1", "b");
    protocol::frame_batch out;
    BOOST_TEST(log.collect(0, 1 << 20, 0, out, 2) == 2u);
    BOOST_REQUIRE_EQUAL(out.size(), 2u);
    BOOST_TEST(std::string(out[1]).find("\"content\":\"a\"") != std::string::npos);
    protocol::frame_batch rest;
    BOOST_TEST(log.collect(2, 1 << 20, 0, rest) == 3u);
    BOOST_TEST(log.last_text() == "b");
}

BOOST_AUTO_TEST_CASE(stored_entries_keep_their_seqs_and_skip_what_is_here)
{
    replay_log writer;
    writer.begin_message("m1");
    writer.append_user("m1", "hi");
    writer.append_text(entry_kind::token, "m1", "Hel");
    writer.append_error(errc::timeout, "no token", "m1");
    const auto error_text = std::string(writer.last_text());
    protocol::stream_end_fields end;
    end.id = "m1";
    end.reason = "error";
    const auto end_seq = writer.append_end(end);
    const auto end_text = std::string(writer.last_text());

    replay_log reader;
    BOOST_TEST(reader.append_stored(entry_kind::user, 1, "m1", "hi"));
    BOOST_TEST(reader.append_stored(entry_kind::token, 2, "m1", "Hel"));
    BOOST_TEST(!reader.append_stored(entry_kind::token, 2, "m1", "Hel")); // read twice
    BOOST_TEST(reader.append_stored(entry_kind::error, end_seq, "m1", error_text));
    BOOST_TEST(!reader.append_stored(entry_kind::error, end_seq, "m1", error_text));
    BOOST_TEST(reader.append_stored(entry_kind::end, end_seq, "m1", end_text));
    BOOST_TEST(reader.last_seq() == writer.last_seq());

    protocol::frame_batch a, b;
    writer.collect(0, 1 << 20, 7, a);
    reader.collect(0, 1 << 20, 7, b);
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        BOOST_TEST(std::string(a[i]) == std::string(b[i]));
}

BOOST_AUTO_TEST_CASE(a_gap_moves_the_log_on)
{
    replay_log reader;
    BOOST_TEST(reader.append_stored(entry_kind::user, 1, "m1", "hi"));
    BOOST_TEST(reader.append_stored(entry_kind::user, 5, "m2", "again"));
    BOOST_TEST(reader.first_seq() == 5u);
    BOOST_TEST(reader.last_seq() == 5u);
    BOOST_TEST(reader.append_stored(entry_kind::token, 6, "m2", "x"));
    BOOST_TEST(reader.last_seq() == 6u);
}

BOOST_AUTO_TEST_SUITE_END()
