#include "support/soak_script.hpp"

#include "support/resume_helpers.hpp"
#include "support/soak_client.hpp"

#include <boost/json.hpp>

#include <exception>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

namespace tokenrelay::test {
namespace {

namespace json = boost::json;
using steady = std::chrono::steady_clock;

void expect(bool ok, const std::string& what)
{
    if (!ok)
        throw soak_failure(what);
}

std::string str(const json::object& o)
{
    return json::serialize(o);
}

/// One simulated client: its connection, its session and where that session's seqs are.
struct client
{
    soak_client_options options;
    std::mt19937 rng;
    soak_client_result& result;
    std::optional<soak_connection> conn{};
    std::string session{};
    std::int64_t seq = 0; // the session's last seq: its last stream_end's
    int step = 0;

    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
    template <class T, std::size_t N> const T& pick(const std::array<T, N>& from)
    {
        return from[static_cast<std::size_t>(uniform(0, static_cast<int>(N) - 1))];
    }
    /// A unique chat id and content prefix, so a log line or a mock body names the step.
    std::string tag() const
    {
        return "c" + std::to_string(options.index) + "-" + std::to_string(step);
    }
};

awaitable<void> open_fresh(client& c)
{
    c.conn.emplace(co_await net::this_coro::executor, c.options.port, c.options.op_timeout);
    co_await c.conn->open("/ws");
    const auto f = co_await c.conn->read();
    // Section 2: `session` is always the first frame; a new one holds nothing yet.
    expect(
        string_field(f, "type") == "session" && f.if_contains("resumed") &&
            f.at("resumed") == json::value(false) && int_field(f, "protocol") == 1 &&
            int_field(f, "last_seq") == 0 && string_field(f, "session"),
        "first frame of a new connection: " + str(f)
    );
    c.session = std::string(*string_field(f, "session"));
    c.seq = 0;
}

void check_resumed_frame(const json::object& f, const client& c, std::int64_t from)
{
    // Section 3: the relay holds at least what the client has seen; the current message
    // is in its log, so first_seq is at most one past what the client asks for.
    const auto last = int_field(f, "last_seq");
    const auto first = int_field(f, "first_seq");
    expect(
        string_field(f, "type") == "session" && string_field(f, "session") == c.session &&
            f.if_contains("resumed") && f.at("resumed") == json::value(true) && last &&
            *last >= from && first && *first >= 1 && *first <= from + 1,
        "session frame of a resume from seq " + std::to_string(from) + ": " + str(f)
    );
}

/// Reads one generation to its stream_end: tokens and the end go to `follow` (which
/// checks seq and id continuity), error frames are returned.
awaitable<std::vector<json::object>> read_generation(client& c, seq_follower& follow)
{
    std::vector<json::object> errors;
    while (!follow.ended()) {
        auto f = co_await c.conn->read();
        if (string_field(f, "type") == "error")
            errors.push_back(std::move(f));
        else
            follow.feed(f);
    }
    co_return errors;
}

/// Reads until `words` words in all; a stream_end or an error before that is a failure.
awaitable<void> read_words(client& c, seq_follower& follow, std::int64_t words)
{
    while (follow.words() < words) {
        const auto f = co_await c.conn->read();
        expect(string_field(f, "type") != "error", "error mid-reply: " + str(f));
        expect(!follow.feed(f), "stream_end after " + std::to_string(follow.words()) + " words");
    }
}

void expect_no_errors(const std::vector<json::object>& errors, std::string_view in)
{
    if (!errors.empty())
        throw soak_failure("error frame in " + std::string(in) + ": " + str(errors.front()));
}

void expect_clean(const seq_follower& follow)
{
    if (follow.problems().empty())
        return;
    std::ostringstream all;
    for (const auto& p : follow.problems())
        all << p << "; ";
    throw soak_failure("seq problems: " + all.str());
}

/// The end of a reply: the reason, the id, and a stream_end seq one past the last word,
/// which comes one past the chat's user frame (section 2).
void expect_end(
    const client& c, const seq_follower& follow, std::string_view reason, const std::string& id
)
{
    expect_clean(follow);
    const auto& end = follow.end();
    expect(
        string_field(end, "reason") == reason,
        "expected reason " + std::string(reason) + ": " + str(end)
    );
    expect(string_field(end, "id") == id, "stream_end of another message: " + str(end));
    expect(
        int_field(end, "seq") == c.seq + 1 + follow.words() + 1,
        "stream_end seq after " + std::to_string(c.seq) + " and " + std::to_string(follow.words()) +
            " words: " + str(end)
    );
}

void expect_one_error(
    const std::vector<json::object>& errors, std::string_view code, std::string_view in_message
)
{
    expect(
        errors.size() == 1,
        std::to_string(errors.size()) + " error frames, expected one " + std::string(code)
    );
    const auto message = string_field(errors[0], "message");
    expect(
        string_field(errors[0], "code") == code && message &&
            message->find(in_message) != std::string_view::npos,
        "expected error " + std::string(code) + " mentioning \"" + std::string(in_message) +
            "\": " + str(errors[0])
    );
}

awaitable<void> send_chat(client& c, const std::string& id, const std::string& directives)
{
    // Built before the co_await: GCC 12 rejects a braced json::object inside one.
    const json::object chat{
        {"type", "chat"}, {"id", id}, {"content", "soak " + id + " " + directives}};
    co_await c.conn->send(chat);
}

awaitable<void> step_chat(client& c, soak_tally& tally)
{
    static constexpr std::array<std::string_view, 8> framings{
        "",
        "",
        "",
        "mock:lineend=crlf",
        "mock:lineend=cr",
        "mock:comments",
        "mock:empty_deltas",
        "mock:bytewise"};
    static constexpr std::array<int, 4> intervals{0, 0, 5, 10};
    const int n = c.uniform(1, 24);
    const auto id = c.tag();
    std::string directives = "mock:tokens=" + std::to_string(n) +
                             " mock:interval=" + std::to_string(c.pick(intervals)) + " " +
                             std::string(c.pick(framings));
    c.result.doing = id + " chat " + directives;
    co_await send_chat(c, id, directives);
    seq_follower follow(c.seq);
    const auto errors = co_await read_generation(c, follow);
    expect_no_errors(errors, "a normal reply");
    expect(follow.text() == mock_words(n), "text \"" + follow.text() + "\"");
    expect_end(c, follow, "stop", id);
    const auto* usage = follow.end().if_contains("usage");
    expect(
        usage && usage->is_object() && int_field(usage->as_object(), "completion_tokens") == n,
        "usage of " + std::to_string(n) + " tokens: " + str(follow.end())
    );
    c.seq = follow.last_seq();
    ++tally.exact_replies;
}

awaitable<void> step_cancel(client& c)
{
    // 4 s of reply: the cancel lands long before its end, even under a sanitizer.
    constexpr int n = 200;
    const auto id = c.tag();
    const int k = c.uniform(1, 8);
    c.result.doing = id + " cancel after " + std::to_string(k) + " words";
    co_await send_chat(c, id, "mock:tokens=200 mock:interval=20");
    seq_follower follow(c.seq);
    co_await read_words(c, follow, k);
    const json::object cancel{{"type", "cancel"}, {"id", id}};
    co_await c.conn->send(cancel);
    const auto errors = co_await read_generation(c, follow);
    expect_no_errors(errors, "a cancelled reply");
    // Section 2: tokens already on their way may still come, then the end; what came is
    // the reply's beginning, word for word.
    expect(follow.words() < n, "the whole reply came despite the cancel");
    expect(
        follow.text() == mock_words(static_cast<int>(follow.words())),
        "text \"" + follow.text() + "\""
    );
    expect_end(c, follow, "cancelled", id);
    c.seq = follow.last_seq();
}

awaitable<void> step_resume(client& c, soak_tally& tally, bool by_frame)
{
    constexpr int n = 40;
    const auto id = c.tag();
    const int k = c.uniform(1, 20);
    co_await send_chat(c, id, "mock:tokens=40 mock:interval=15");
    seq_follower follow(c.seq);
    co_await read_words(c, follow, k);
    c.conn->drop();
    // Section 3: any seq the client has seen may be asked for again, back to the
    // message's start; the replay then repeats exactly what came after it.
    const auto from = std::uniform_int_distribution<std::int64_t>(c.seq, follow.last_seq())(c.rng);
    follow.rewind(from);
    c.result.doing = id + (by_frame ? " resume frame" : " resume query") + " from seq " +
                     std::to_string(from) + " after " + std::to_string(k) + " words";

    c.conn.emplace(co_await net::this_coro::executor, c.options.port, c.options.op_timeout);
    if (by_frame) {
        co_await c.conn->open("/ws");
        const auto fresh = co_await c.conn->read();
        expect(
            string_field(fresh, "type") == "session" && string_field(fresh, "session") &&
                string_field(fresh, "session") != c.session && fresh.if_contains("resumed") &&
                fresh.at("resumed") == json::value(false),
            "first frame before a resume frame: " + str(fresh)
        );
        co_await c.conn->send(resume_frame(c.session, from));
    } else {
        co_await c.conn->open(resume_target(c.session, from));
    }
    check_resumed_frame(co_await c.conn->read(), c, from);
    const auto errors = co_await read_generation(c, follow);
    expect_no_errors(errors, "a resumed reply");
    expect(follow.text() == mock_words(n), "text across the resume \"" + follow.text() + "\"");
    expect_end(c, follow, "stop", id);
    c.seq = follow.last_seq();
    ++tally.exact_replies;
}

awaitable<void> step_upstream_fault(client& c, soak_kind kind)
{
    const auto id = c.tag();
    std::string directives;
    int words = 0;
    std::string code = "upstream_error";
    std::string in_message;
    switch (kind) {
    case soak_kind::upstream_500:
        // Section 6: retried before the first token, then given up.
        directives = "mock:status=500";
        in_message = "500";
        break;
    case soak_kind::upstream_cut:
        words = c.uniform(1, 6);
        directives = "mock:tokens=12 mock:disconnect_after=" + std::to_string(words);
        break;
    case soak_kind::upstream_garbage:
        words = 1;
        directives = "mock:malformed";
        break;
    default:
        words = c.uniform(1, 4);
        directives = "mock:tokens=12 mock:stall_after=" + std::to_string(words);
        code = "timeout";
        break;
    }
    c.result.doing = id + " " + directives;
    co_await send_chat(c, id, directives);
    seq_follower follow(c.seq);
    const auto errors = co_await read_generation(c, follow);
    expect(follow.text() == mock_words(words), "text before the fault \"" + follow.text() + "\"");
    expect_one_error(errors, code, in_message);
    expect_end(c, follow, code, id);
    c.seq = follow.last_seq();
}

awaitable<void> step_bad_frames(client& c)
{
    struct bad
    {
        std::string_view text;
        std::string_view code;
    };
    static constexpr std::array<bad, 8> table{{
        {"not json", "bad_json"},
        {R"({"type":"chat")", "bad_json"},
        {"[1,2,3]", "bad_json"},
        {R"({"type":"dance"})", "unknown_type"},
        {R"({"content":"no type"})", "unknown_type"},
        {R"({"type":"chat"})", "bad_request"},
        {R"({"type":"chat","content":""})", "bad_request"},
        {R"({"type":"chat","content":"x","options":{"temperature":9}})", "bad_request"},
    }};
    const int count = c.uniform(1, 4);
    for (int i = 0; i < count; ++i) {
        const auto& b = c.pick(table);
        c.result.doing = c.tag() + " bad frame " + std::string(b.text);
        co_await c.conn->send_text(b.text);
        const auto f = co_await c.conn->read();
        expect(
            string_field(f, "type") == "error" && string_field(f, "code") == b.code,
            "answer to " + std::string(b.text) + ": " + str(f)
        );
    }
    // Section 2: the connection stays open, and nothing else was queued before the pong.
    const auto stamp = c.uniform(1, 1000000);
    const json::object ping{{"type", "ping"}, {"timestamp", stamp}};
    co_await c.conn->send(ping);
    const auto pong = co_await c.conn->read();
    expect(
        string_field(pong, "type") == "pong" && int_field(pong, "client_timestamp") == stamp,
        "answer to a ping after bad frames: " + str(pong)
    );
}

awaitable<void> step_abandon(client& c)
{
    const auto id = c.tag();
    const int k = c.uniform(1, 5);
    c.result.doing = id + " abandon after " + std::to_string(k) + " words";
    // Longer than the resume window: the relay must close this upstream request itself.
    co_await send_chat(c, id, "mock:tokens=200 mock:interval=20");
    seq_follower follow(c.seq);
    co_await read_words(c, follow, k);
    expect_clean(follow);
    c.conn->drop();
    c.conn.reset();
}

soak_kind draw_kind(client& c)
{
    // Weights: mostly plain chats; the slow steps (500 retries, stalls) rarer.
    static constexpr std::array<int, soak_kind_count> weights{30, 10, 10, 8, 3, 6, 6, 3, 10, 4};
    std::discrete_distribution<std::size_t> d(weights.begin(), weights.end());
    return static_cast<soak_kind>(d(c.rng));
}

awaitable<void> run_step(client& c, soak_kind kind, soak_tally& tally)
{
    c.result.doing = c.tag() + " " + std::string(kind_name(kind));
    if (!c.conn)
        co_await open_fresh(c);
    switch (kind) {
    case soak_kind::chat:
        co_await step_chat(c, tally);
        break;
    case soak_kind::cancel:
        co_await step_cancel(c);
        break;
    case soak_kind::resume_query:
    case soak_kind::resume_frame:
        co_await step_resume(c, tally, kind == soak_kind::resume_frame);
        break;
    case soak_kind::upstream_500:
    case soak_kind::upstream_cut:
    case soak_kind::upstream_garbage:
    case soak_kind::upstream_stall:
        co_await step_upstream_fault(c, kind);
        break;
    case soak_kind::bad_frames:
        co_await step_bad_frames(c);
        break;
    case soak_kind::abandon:
        co_await step_abandon(c);
        break;
    }
    ++tally.steps[static_cast<std::size_t>(kind)];
}

/// Between steps a client sometimes leaves: a normal close, or a drop that leaves its
/// idle session to the resume window.
awaitable<void> maybe_leave(client& c)
{
    if (!c.conn)
        co_return;
    const int r = c.uniform(0, 99);
    if (r < 12) {
        c.result.doing = c.tag() + " close";
        co_await c.conn->close();
        c.conn.reset();
    } else if (r < 20) {
        c.conn->drop();
        c.conn.reset();
    }
}

std::string describe(const client& c, std::exception_ptr e)
{
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        what = x.what();
    } catch (...) {
    }
    return "client " + std::to_string(c.options.index) + " in " + c.result.doing + ": " + what;
}

} // namespace

std::string_view kind_name(soak_kind k)
{
    static constexpr std::array<std::string_view, soak_kind_count> names{
        "chat",
        "cancel",
        "resume_query",
        "resume_frame",
        "upstream_500",
        "upstream_cut",
        "upstream_garbage",
        "upstream_stall",
        "bad_frames",
        "abandon"};
    return names[static_cast<std::size_t>(k)];
}

awaitable<void>
run_soak_client(soak_client_options options, soak_tally& tally, soak_client_result& result)
{
    std::seed_seq seeds{options.seed, static_cast<std::uint32_t>(options.index)};
    client c{options, std::mt19937(seeds), result};
    try {
        for (; steady::now() < options.stop_at; ++c.step) {
            const auto kind = c.step == 0
                                  ? static_cast<soak_kind>(
                                        static_cast<std::size_t>(options.index) % soak_kind_count
                                    )
                                  : draw_kind(c);
            co_await run_step(c, kind, tally);
            co_await maybe_leave(c);
        }
        result.doing = c.tag() + " final close";
        if (c.conn)
            co_await c.conn->close();
    } catch (...) {
        result.failure = describe(c, std::current_exception());
        if (c.conn)
            c.conn->drop();
    }
    result.finished = true;
}

awaitable<void> run_warm_up_client(soak_client_options options, soak_client_result& result)
{
    client c{options, std::mt19937(options.seed), result};
    try {
        result.doing = "warm-up";
        co_await open_fresh(c);
        const auto id = "warm" + std::to_string(options.index);
        co_await send_chat(c, id, "mock:tokens=10 mock:interval=20");
        seq_follower follow(0);
        const auto errors = co_await read_generation(c, follow);
        expect_no_errors(errors, "a warm-up reply");
        expect(follow.text() == mock_words(10), "text \"" + follow.text() + "\"");
        expect_end(c, follow, "stop", id);
        co_await c.conn->close();
    } catch (...) {
        result.failure = describe(c, std::current_exception());
    }
    result.finished = true;
}

} // namespace tokenrelay::test
