// Hostile clients: slow headers, a client that never reads, connection bursts,
// odd fragmentation, ping floods, guessed session ids and path tricks. Each case attacks
// one defence of PROTOCOL.md and checks both that the attacker gets nothing and that an
// ordinary client is still served meanwhile. Memory and descriptors are read from the
// relay's /proc entries. Waits are on events with deadlines; where the event is that
// something stops (the relay pausing its upstream, TCP pushing back on a flood), it is seen
// as no progress over a short window, which can let a broken defence pass on a very slow
// machine but never fails a working one.

#include "support/eventually.hpp"
#include "support/metric_samples.hpp"
#include "support/proc_stats.hpp"
#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"
#include "support/soak_client.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <poll.h>
#include <random>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Sanitizers make every step several times slower: the burst shrinks where its size is
// not the point.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

constexpr std::size_t mib = 1024 * 1024;

// How far the relay's RSS may rise over an attack: far above what it legitimately holds
// for one connection (a 1 MiB outbound backlog, a replay log of 16 MiB at most), far below
// what an unbounded queue would take. Under ASan, freed memory waits in a quarantine
// (256 MiB by default) before reuse, so RSS follows churn rather than live memory; under
// TSan every live byte has shadow memory beside it.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t rss_allowance = (64 + 256) * mib;
#elif defined(__SANITIZE_THREAD__)
constexpr std::size_t rss_allowance = 4 * 64 * mib;
#else
constexpr std::size_t rss_allowance = 64 * mib;
#endif

double metric(const std::map<std::string, double>& m, const std::string& name)
{
    const auto it = m.find(name);
    BOOST_TEST_REQUIRE((it != m.end()), "no sample " << name << " in /metrics");
    return it->second;
}

double metric(std::uint16_t port, const std::string& name)
{
    return metric(scrape_metrics(port), name);
}

/// The first of `problems`, for a failure message (front() of an empty vector is UB).
std::string first_of(const std::vector<std::string>& problems)
{
    return problems.empty() ? std::string("none") : problems.front();
}

/// One ordinary chat on a new connection, checked exactly: the relay still serves.
void ordinary_chat(relay_fixture& f, std::string_view label, int tokens = 4)
{
    BOOST_TEST_CONTEXT("ordinary chat " << label)
    {
        auto s = f.open_session();
        s->send(chat_frame(std::string(label) + " mock:tokens=" + std::to_string(tokens)));
        const auto r = s->collect_reply();
        BOOST_TEST(r.errors.empty());
        BOOST_TEST(r.text == mock_words(tokens));
        BOOST_TEST(string_of(r.end, "reason") == "stop");
        check_seqs(r, 0);
        s->close();
    }
}

/// A text frame from the relay as JSON (PROTOCOL.md section 2: text frames of one object).
json::object frame_json(const ws_frame& f)
{
    BOOST_TEST_REQUIRE(
        (f.opcode == ws_opcode::text && f.fin),
        "expected one text frame, got opcode " << static_cast<int>(f.opcode)
    );
    error_code ec;
    auto v = json::parse(f.payload, ec);
    BOOST_TEST_REQUIRE((!ec && v.is_object()), "not a JSON object: " << f.payload);
    return std::move(v.as_object());
}

/// The next frame from the relay, as JSON.
json::object next_json(raw_ws& ws)
{
    const auto f = ws.read_frame(10s);
    BOOST_TEST_REQUIRE(f.has_value(), "the relay closed the connection");
    return frame_json(*f);
}

/// Reads frames until the relay's close frame; returns its code. Text frames before it
/// are allowed (answers already queued); nothing else is.
std::uint16_t expect_raw_close(raw_ws& ws)
{
    for (;;) {
        auto f = ws.read_frame(10s);
        BOOST_TEST_REQUIRE(f.has_value(), "the relay closed TCP without a close frame");
        if (f->opcode == ws_opcode::close)
            return f->close_code();
        BOOST_TEST_REQUIRE(
            (f->opcode == ws_opcode::text), "unexpected opcode " << static_cast<int>(f->opcode)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 1. Slowloris (PROTOCOL.md section 1; --header-timeout).

constexpr auto dribble_interval = 300ms;
constexpr std::string_view request_start = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";

BOOST_AUTO_TEST_CASE(slowloris_is_cut_off_at_the_header_deadline, *scaled_timeout(120))
{
    relay_fixture f{{.flags = {"--header-timeout", "2"}}};
    const auto relay_pid = f.relay().pid();

    // One dribbler: a header line every 300 ms, forever. Each line arrives well inside
    // the 2 s, so only a deadline for the whole header (not per byte) can end it.
    raw_socket loris(f.port());
    const auto start = clock::now();
    BOOST_TEST_REQUIRE(loris.write(request_start, 5s) == request_start.size());
    int lines = 0;
    std::string answer;
    bool closed = false;
    while (clock::now() - start < 30s) {
        if (loris.read_some(answer, dribble_interval) == raw_socket::status::closed) {
            closed = true;
            break;
        }
        const auto line = "X-Dribble-" + std::to_string(lines) + ": still coming\r\n";
        if (loris.write(line, 5s) != line.size()) {
            closed = true; // the relay has gone: the write met a reset
            break;
        }
        if (++lines == 1)
            ordinary_chat(f, "while one client dribbles");
    }
    const auto elapsed = clock::now() - start;
    BOOST_TEST_REQUIRE(closed, "the relay kept a dribbling client for 30 s");
    // The timer cannot fire early: a close before 2 s would be something else.
    BOOST_TEST((elapsed >= 1900ms), "closed after " << (elapsed / 1ms) << " ms");
    // Bytes kept coming until the relay cut it off.
    BOOST_TEST(lines >= 3);
    // Nothing for it, or at most a 4xx: never the page.
    BOOST_TEST((answer.empty() || answer.starts_with("HTTP/1.1 4")), answer);
    BOOST_TEST(answer.find("<") == std::string::npos);

    // 200 of them at once: the relay still accepts and chats, then cuts every one off.
    const auto fds_before = open_fd_count(relay_pid);
    const int count = 200;
    std::vector<raw_socket> herd;
    herd.reserve(count);
    for (int i = 0; i < count; ++i) {
        herd.emplace_back(f.port());
        BOOST_TEST_REQUIRE(herd.back().write(request_start, 5s) == request_start.size());
    }
    ordinary_chat(f, "while 200 clients dribble");
    std::vector<bool> open(count, true);
    int still_open = count;
    int round = 0;
    auto last_line = clock::now();
    const auto herd_start = clock::now();
    while (still_open > 0 && clock::now() - herd_start < 60s) {
        std::vector<pollfd> fds;
        std::vector<int> index;
        for (int i = 0; i < count; ++i) {
            if (open[i]) {
                fds.push_back({herd[i].fd(), POLLIN, 0});
                index.push_back(i);
            }
        }
        ::poll(fds.data(), fds.size(), static_cast<int>(dribble_interval.count()));
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if (fds[k].revents == 0)
                continue;
            std::string ignored;
            if (herd[index[k]].read_some(ignored, 0ms) == raw_socket::status::closed) {
                open[index[k]] = false;
                --still_open;
            }
        }
        if (clock::now() - last_line >= dribble_interval) {
            last_line = clock::now();
            const auto line = "X-Herd-" + std::to_string(round++) + ": more\r\n";
            for (int i = 0; i < count; ++i) {
                if (open[i] && herd[i].write(line, 1s) != line.size()) {
                    open[i] = false;
                    --still_open;
                }
            }
        }
    }
    BOOST_TEST(still_open == 0, still_open << " dribblers still open after 60 s");
    BOOST_TEST(round >= 3);
    // The relay let go of their sockets too (while the clients still hold theirs), not
    // only stopped answering.
    const bool fds_back =
        eventually([&] { return open_fd_count(relay_pid) <= fds_before + 2; }, 10s);
    BOOST_TEST(
        fds_back, "relay fds " << open_fd_count(relay_pid) << ", before the herd " << fds_before
    );
    herd.clear();
    ordinary_chat(f, "after the herd");
}

// ---------------------------------------------------------------------------------------
// 2. A client that asks for a huge reply and never reads (PROTOCOL.md section 5).

/// Waits until the relay has paused for backpressure (its pause counter above
/// `pauses_before`) and then holds still: the token bytes it has taken from the upstream
/// stay the same over three samples 250 ms apart. A relay that only slowed down would
/// never hold still. Returns those bytes, or nothing at the deadline.
std::optional<double> paused_and_still(std::uint16_t port, double pauses_before)
{
    const auto deadline = clock::now() + 60s;
    std::vector<double> samples;
    while (clock::now() < deadline) {
        const auto m = scrape_metrics(port);
        if (metric(m, "tokenrelay_backpressure_pauses_total") > pauses_before) {
            samples.push_back(metric(m, "tokenrelay_token_bytes_relayed_total"));
            const auto n = samples.size();
            if (n >= 3 && samples[n - 1] == samples[n - 2] && samples[n - 2] == samples[n - 3])
                return samples.back();
        }
        std::this_thread::sleep_for(250ms);
    }
    return std::nullopt;
}

BOOST_AUTO_TEST_CASE(never_reading_client_is_held_in_bounded_memory, *scaled_timeout(180))
{
    relay_fixture f{{.flags = {"--drain-timeout", "1"}}};
    const auto relay_pid = f.relay().pid();
    // Lazily made state (upstream connection, allocator arenas) belongs to the baseline.
    ordinary_chat(f, "warm up");
    const auto baseline = resident_bytes(relay_pid);
    const auto before = scrape_metrics(f.port());
    const auto pauses_before = metric(before, "tokenrelay_backpressure_pauses_total");
    const auto bytes_before = metric(before, "tokenrelay_token_bytes_relayed_total");
    const auto bound = baseline + rss_allowance;

    // A tiny receive buffer: TCP stops the relay's writes after a few KiB.
    raw_ws hog(f.port(), "/ws", {.receive_buffer = 4096});
    BOOST_TEST_REQUIRE(string_of(next_json(hog), "type") == "session");
    const std::size_t huge = 200'000'000;
    hog.send(
        ws_opcode::text,
        json::serialize(chat_frame("give me everything mock:huge=" + std::to_string(huge)))
    );

    // Section 5: past the outbound backlog the relay stops reading the upstream.
    const auto held = paused_and_still(f.port(), pauses_before);
    BOOST_TEST_REQUIRE(held.has_value(), "the relay did not stop reading the upstream");
    // What it took: the backlog (1 MiB) plus what the sockets between it and the hog
    // hold (a few MiB on loopback), nowhere near the 200 MB on offer.
    const auto hog_bytes = static_cast<std::size_t>(*held - bytes_before);
    BOOST_TEST_MESSAGE("relay held still after " << hog_bytes << " bytes for the hog");
    BOOST_TEST(hog_bytes > 1 * mib);
    BOOST_TEST(hog_bytes < 16 * mib);
    const auto rss_paused = resident_bytes(relay_pid);
    BOOST_TEST(
        rss_paused < bound,
        "RSS " << rss_paused / mib << " MiB, baseline " << baseline / mib << " MiB"
    );

    // Everyone else is served meanwhile, and the hog's stream stays paused throughout: the
    // relay's token bytes grow by exactly the two ordinary replies.
    ordinary_chat(f, "next to a hog");
    ordinary_chat(f, "next to a hog again", 12);
    BOOST_TEST(
        metric(f.port(), "tokenrelay_token_bytes_relayed_total") ==
        *held + static_cast<double>(mock_words(4).size() + mock_words(12).size())
    );
    const auto rss_later = resident_bytes(relay_pid);
    BOOST_TEST(
        rss_later < bound,
        "RSS " << rss_later / mib << " MiB, baseline " << baseline / mib << " MiB"
    );
    const auto stats = f.mock_stats();
    BOOST_TEST(integer(stats, "completed") == 3); // the warm-up and the two ordinary chats
    BOOST_TEST(integer(stats, "open") == 1);

    // The hog can still cancel (its reader was never blocked); the upstream is closed, and
    // when it finally reads it gets exactly what the relay took for it, then the end.
    hog.send(ws_opcode::text, R"({"type":"cancel"})");
    f.mock_wait("aborted", 1, 20000);
    std::size_t received = 0;
    std::string reason;
    while (reason.empty()) {
        const auto frame = next_json(hog);
        const auto type = string_of(frame, "type");
        if (type == "token")
            received += string_of(frame, "content").size();
        else if (type == "user")
            continue; // its own question, before the reply
        else if (type == "stream_end")
            reason = string_of(frame, "reason");
        else
            BOOST_FAIL("unexpected frame " << frame);
    }
    BOOST_TEST(reason == "cancelled");
    BOOST_TEST(received == hog_bytes);
    BOOST_TEST(resident_bytes(relay_pid) < bound);
}

// ---------------------------------------------------------------------------------------
// 3. A burst of connections opened and dropped in every way a client can drop one.

/// The relay child inherits this process's limit: both hold one wave's sockets.
void raise_fd_limit()
{
    rlimit lim{};
    BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
    lim.rlim_cur = lim.rlim_max;
    BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
}

struct burst_tally
{
    int done = 0;
    int upgraded = 0;
    int session_frames = 0;
    int close_answered = 0;
    std::vector<std::string> problems;
};

void abort_socket(tcp::socket& s)
{
    error_code ignored;
    s.set_option(net::socket_base::linger(true, 0), ignored);
    s.close(ignored);
}

/// One client of the burst; `kind` picks how it goes away:
/// 0 TCP only, reset; 1 TCP only, closed; 2 half a request, reset; 3 whole request, closed
/// without reading; 4 upgraded, reset; 5 session frame read, closed without a close frame;
/// 6 session frame read, WebSocket close handshake.
awaitable<void> hit_and_run(std::uint16_t port, int kind, burst_tally& t)
{
    struct count_done
    {
        burst_tally& t;
        ~count_done() { ++t.done; }
    } guard{t};
    tcp::socket s(co_await net::this_coro::executor);
    auto [ec] = co_await s.async_connect(
        tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), port), use_tuple
    );
    if (ec) {
        t.problems.push_back("connect: " + ec.message());
        co_return;
    }
    if (kind <= 1) {
        kind == 0 ? abort_socket(s) : s.close();
        co_return;
    }
    const auto request = ws_upgrade_request("/ws", port);
    const auto part = kind == 2 ? request.size() / 2 : request.size();
    auto [wec, wn] = co_await net::async_write(s, net::buffer(request.data(), part), use_tuple);
    if (wec) {
        t.problems.push_back("write: " + wec.message());
        co_return;
    }
    if (kind == 2) {
        abort_socket(s);
        co_return;
    }
    if (kind == 3) {
        s.close();
        co_return;
    }
    std::string in;
    auto [rec, head] =
        co_await net::async_read_until(s, net::dynamic_buffer(in), "\r\n\r\n", use_tuple);
    if (rec || !in.starts_with("HTTP/1.1 101")) {
        t.problems.push_back("upgrade: " + (rec ? rec.message() : in.substr(0, in.find('\r'))));
        co_return;
    }
    ++t.upgraded;
    in.erase(0, head);
    if (kind == 4) {
        abort_socket(s);
        co_return;
    }
    std::optional<ws_frame> first;
    while (!(first = take_ws_frame(in))) {
        char buf[1024];
        auto [e, n] = co_await s.async_read_some(net::buffer(buf), use_tuple);
        if (e) {
            t.problems.push_back("session frame: " + e.message());
            co_return;
        }
        in.append(buf, n);
    }
    if (first->opcode != ws_opcode::text ||
        first->payload.find(R"("type":"session")") == std::string::npos) {
        t.problems.push_back("first frame: " + first->payload);
        co_return;
    }
    ++t.session_frames;
    if (kind == 5) {
        s.close();
        co_return;
    }
    // A polite close (RFC 6455 section 5.5.1): the relay answers with its own close frame
    // and then ends the TCP connection.
    const auto close_frame = ws_client_frame(ws_opcode::close, std::string("\x03\xe8", 2));
    co_await net::async_write(s, net::buffer(close_frame), use_tuple);
    for (;;) {
        if (auto fr = take_ws_frame(in); fr && fr->opcode == ws_opcode::close) {
            ++t.close_answered;
            break;
        }
        char buf[1024];
        auto [e, n] = co_await s.async_read_some(net::buffer(buf), use_tuple);
        if (e) {
            t.problems.push_back("no close answer: " + e.message());
            co_return;
        }
        in.append(buf, n);
    }
    std::string rest;
    co_await net::async_read(s, net::dynamic_buffer(rest), use_tuple); // to the relay's EOF
}

BOOST_AUTO_TEST_CASE(connection_burst_leaves_nothing_behind, *scaled_timeout(300))
{
    raise_fd_limit();
    const int total = sanitized ? 6'000 : 20'000;
    const int wave = sanitized ? 1'000 : 2'000;
    relay_fixture f{
        {.flags =
             one_address_load({"--resume-window", "1", "--max-connections-per-ip", "100000"})}};
    const auto relay_pid = f.relay().pid();
    ordinary_chat(f, "before the burst");
    // The warm-up session must be gone too, so the counts below start from nothing.
    BOOST_TEST_REQUIRE(eventually(
        [&] { return metric(f.port(), "tokenrelay_sessions{state=\"detached\"}") == 0; }, 10s
    ));
    const auto fds_baseline = open_fd_count(relay_pid);
    const auto created_before = metric(f.port(), "tokenrelay_sessions_created_total");

    burst_tally t;
    const auto started = clock::now();
    for (int sent = 0; sent < total; sent += wave) {
        net::io_context ioc;
        const int before = t.done;
        for (int i = sent; i < sent + wave; ++i)
            net::co_spawn(ioc, hit_and_run(f.port(), i % 7, t), net::detached);
        ioc.run_for(scaled(60s));
        BOOST_TEST_REQUIRE(
            t.done - before == wave,
            "wave from " << sent << ": " << t.done - before << " of " << wave << " finished"
        );
    }
    const auto burst_ms = (clock::now() - started) / 1ms;
    BOOST_TEST_MESSAGE(total << " connections in " << burst_ms << " ms");
    BOOST_TEST(
        t.problems.empty(), t.problems.size() << " problems, first: " << first_of(t.problems)
    );
    // Kinds 4, 5 and 6 always upgrade; 5 and 6 read their session frame; 6 closes politely.
    const int per_kind = total / 7;
    BOOST_TEST(t.upgraded >= 3 * per_kind);
    BOOST_TEST(t.session_frames >= 2 * per_kind);
    BOOST_TEST(t.close_answered >= per_kind);

    // Every connection is gone from the relay's books and its descriptor table.
    BOOST_TEST(eventually([&] { return metric(f.port(), "tokenrelay_open_connections") == 0; }, 30s)
    );
    const bool fds_back =
        eventually([&] { return open_fd_count(relay_pid) <= fds_baseline + 2; }, 30s);
    BOOST_TEST(fds_back, "relay fds " << open_fd_count(relay_pid) << ", baseline " << fds_baseline);
    // Every session the burst made expires after the 1 s resume window (section 3).
    const bool sessions_gone = eventually(
        [&] {
            const auto m = scrape_metrics(f.port());
            return metric(m, "tokenrelay_sessions{state=\"attached\"}") == 0 &&
                   metric(m, "tokenrelay_sessions{state=\"detached\"}") == 0;
        },
        60s
    );
    BOOST_TEST(sessions_gone);
    const auto m = scrape_metrics(f.port());
    const auto created = metric(m, "tokenrelay_sessions_created_total") - created_before;
    BOOST_TEST(created >= static_cast<double>(t.upgraded));
    BOOST_TEST(created <= static_cast<double>(total));
    BOOST_TEST(
        metric(m, "tokenrelay_sessions_expired_total") ==
        metric(m, "tokenrelay_sessions_created_total")
    );
    ordinary_chat(f, "after the burst");
}

// ---------------------------------------------------------------------------------------
// 3b. Abandoned sessions: connect, chat, drop, again and again, 20 sockets at a time. One
// client (one address) spends only its own bounds (PROTOCOL.md section 7), and everything
// is gone again after the resume window.

struct abandon_tally
{
    int done = 0;
    int answered = 0; // a token or a clear refusal came before the drop
    std::vector<std::string> problems;
};

awaitable<void> abandon_loop(std::uint16_t port, int rounds, abandon_tally& t)
{
    for (int i = 0; i < rounds; ++i) {
        try {
            soak_connection c(co_await net::this_coro::executor, port, 20000ms);
            co_await c.open("/ws");
            (void)co_await c.read(); // session
            co_await c.send(chat_frame("spend it mock:tokens=100000 mock:interval=50"));
            const auto f = co_await c.read();
            const auto type = string_field(f, "type");
            // Accepted (its user frame comes first) or refused with a time to retry.
            if (type == "user" || (type == "error" && string_field(f, "code") == "rate_limited" &&
                                   int_field(f, "retry_after_ms").value_or(0) > 0))
                ++t.answered;
            else
                t.problems.push_back("after a chat: " + json::serialize(f));
            c.drop();
        } catch (const std::exception& e) {
            t.problems.push_back(e.what());
        }
        ++t.done;
    }
}

BOOST_AUTO_TEST_CASE(abandoned_sessions_spend_only_their_clients_bounds, *scaled_timeout(300))
{
    // Default bounds: 100 sessions and 20 running replies per address. The resume window
    // outlasts the storm, so without the bounds every abandoned reply would still run when
    // it ends.
    relay_fixture f{{.flags = {"--resume-window", "15"}}};
    const auto relay_pid = f.relay().pid();
    ordinary_chat(f, "before the storm");
    const auto rss_baseline = resident_bytes(relay_pid);

    constexpr int sockets = 20;
    const int rounds = sanitized ? 10 : 25; // per socket
    abandon_tally t;
    {
        net::io_context ioc;
        for (int i = 0; i < sockets; ++i)
            net::co_spawn(ioc, abandon_loop(f.port(), rounds, t), net::detached);
        ioc.run_for(scaled(120s));
    }
    BOOST_TEST_REQUIRE(t.done == sockets * rounds);
    BOOST_TEST(
        t.problems.empty(), t.problems.size() << " problems, first: " << first_of(t.problems)
    );
    BOOST_TEST(t.answered == sockets * rounds);
    // Right after the storm: at most the address's bounds are held (a reply cancelled to
    // make room holds its upstream request until it has ended, a moment later).
    BOOST_TEST(eventually(
        [&] { return metric(f.port(), "tokenrelay_upstream_requests_in_flight") <= 20; }, 3s
    ));
    const auto m = scrape_metrics(f.port());
    BOOST_TEST(
        metric(m, "tokenrelay_sessions{state=\"attached\"}") +
            metric(m, "tokenrelay_sessions{state=\"detached\"}") <=
        100
    );
    // After the resume window: nothing left, and the memory with it.
    BOOST_TEST(eventually(
        [&] {
            const auto now = scrape_metrics(f.port());
            return metric(now, "tokenrelay_sessions{state=\"attached\"}") == 0 &&
                   metric(now, "tokenrelay_sessions{state=\"detached\"}") == 0 &&
                   metric(now, "tokenrelay_upstream_requests_in_flight") == 0;
        },
        60s
    ));
    const auto rss = resident_bytes(relay_pid);
    BOOST_TEST(
        rss <= rss_baseline + rss_allowance,
        "RSS " << rss / mib << " MiB, baseline " << rss_baseline / mib << " MiB"
    );
    ordinary_chat(f, "after the storm");
}

BOOST_AUTO_TEST_CASE(memory_freed_by_a_session_storm_goes_back_to_the_system, *scaled_timeout(300))
{
    // A thousand sessions from many clients (here one, its bounds lifted) each keep a 60 KB
    // message in their history; once they have all expired, the relay's RSS comes back
    // down rather than staying at its peak.
    // The resume window outlasts the storm: every session is alive at the peak.
    relay_fixture f{{.flags = one_address_load({"--resume-window", "20"})}};
    const auto relay_pid = f.relay().pid();
    ordinary_chat(f, "before the storm");
    const auto baseline = resident_bytes(relay_pid);
    const std::string big(60 * 1024, 'a');
    for (int i = 0; i < 1000; ++i) {
        ws_client c;
        c.connect(f.port());
        c.send(chat_frame(big + " mock:tokens=1"));
        BOOST_TEST_REQUIRE(c.collect_reply().text == "w0 ");
        c.drop();
    }
    const auto peak = resident_bytes(relay_pid);
    BOOST_TEST_MESSAGE("RSS " << baseline / mib << " MiB, " << peak / mib << " MiB at the peak");
    BOOST_TEST_REQUIRE(eventually(
        [&] {
            const auto m = scrape_metrics(f.port());
            return metric(m, "tokenrelay_sessions{state=\"attached\"}") == 0 &&
                   metric(m, "tokenrelay_sessions{state=\"detached\"}") == 0;
        },
        60s
    ));
    if (sanitized) {
        // The sanitizers' allocators keep freed memory in their own caches (ASan's
        // quarantine above all): RSS says nothing about the relay's frees there.
        BOOST_TEST_MESSAGE("RSS return not checked under a sanitizer");
        return;
    }
    const bool returned = eventually(
        [&] { return resident_bytes(relay_pid) <= baseline + (peak - baseline) / 4; }, 20s
    );
    BOOST_TEST(
        returned,
        "RSS " << resident_bytes(relay_pid) / mib << " MiB, baseline " << baseline / mib
               << " MiB, peak " << peak / mib << " MiB"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Fragmentation (RFC 6455 section 5.4): any split of a message is the same message.

struct raw_reply
{
    std::string text;
    std::vector<json::object> frames;
    json::object end;
    std::vector<std::string> pongs; // payloads of control pongs, in order
};

raw_reply collect_raw_reply(raw_ws& ws)
{
    raw_reply r;
    for (;;) {
        auto f = ws.read_frame(30s);
        BOOST_TEST_REQUIRE(f.has_value(), "the relay closed before stream_end");
        if (f->opcode == ws_opcode::pong) {
            r.pongs.push_back(f->payload);
            continue;
        }
        auto o = frame_json(*f);
        r.frames.push_back(o);
        const auto type = string_of(o, "type");
        if (type == "token")
            r.text += string_of(o, "content");
        if (type == "stream_end") {
            r.end = std::move(o);
            return r;
        }
    }
}

/// The chat frame split into `sizes`-byte pieces (the last piece takes the rest), with a
/// ping between every two fragments when `pings` (RFC 6455 5.4: control frames may be
/// injected in the middle of a fragmented message).
std::string fragmented(std::string_view message, std::size_t size, bool pings)
{
    std::string out;
    int n = 0;
    for (std::size_t at = 0; at < message.size(); at += size, ++n) {
        const bool last = at + size >= message.size();
        out += ws_client_frame(
            at == 0 ? ws_opcode::text : ws_opcode::continuation, message.substr(at, size), last
        );
        if (pings && !last)
            out += ws_client_frame(ws_opcode::ping, "f" + std::to_string(n));
    }
    return out;
}

BOOST_AUTO_TEST_CASE(fragmented_messages_are_reassembled_exactly, *scaled_timeout(120))
{
    relay_fixture f;
    // Two-, three- and four-byte characters: one-byte fragments cut each of them.
    const std::string content = "fr\xC3\xA4gmented \xE2\x9C\x93 \xF0\x9F\x98\x80 text mock:echo";
    const auto message = json::serialize(chat_frame(content));
    const json::value expected(json::array{turn("user", content)});

    for (const std::size_t size :
         {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
        for (const bool pings : {false, true}) {
            BOOST_TEST_CONTEXT("fragments of " << size << " bytes, pings between: " << pings)
            {
                raw_ws ws(f.port());
                BOOST_TEST(string_of(next_json(ws), "type") == "session");
                ws.send_raw(fragmented(message, size, pings));
                const auto r = collect_raw_reply(ws);
                error_code ec;
                const auto echoed = json::parse(r.text, ec);
                BOOST_TEST_REQUIRE(!ec, "echo is not JSON: " << r.text);
                BOOST_TEST(echoed == expected);
                BOOST_TEST(string_of(r.end, "reason") == "stop");
                if (pings) {
                    // Every injected ping answered, in order, with its own payload.
                    const auto n = (message.size() + size - 1) / size - 1;
                    BOOST_TEST_REQUIRE(r.pongs.size() == n);
                    for (std::size_t i = 0; i < n; ++i)
                        BOOST_TEST(r.pongs[i] == "f" + std::to_string(i));
                }
                const auto stats = f.mock_stats();
                const auto& sent = stats.at("last_body").as_object().at("messages");
                BOOST_TEST(sent == expected);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_fragmentation_closes_the_connection, *scaled_timeout(120))
{
    relay_fixture f;
    const std::string head = R"({"type":"chat","content":")";
    struct bad_case
    {
        std::string label;
        std::vector<std::string> pieces; // one text message in these fragments
        std::uint16_t code;
    };
    // Invalid UTF-8 whose bad byte arrives in a later one-byte fragment (RFC 3629
    // section 3; RFC 6455 section 8.1: fail the connection with 1007).
    const std::vector<bad_case> utf8_cases = {
        {"overlong '/' (C0 AF)", {head, "\xC0", "\xAF", "\"}"}, 1007},
        {"overlong '.' (E0 80 AE)", {head, "\xE0", "\x80", "\xAE", "\"}"}, 1007},
        {"UTF-16 surrogate (ED A0 80)", {head, "\xED", "\xA0", "\x80", "\"}"}, 1007},
        {"above U+10FFFF (F4 90 80 80)", {head, "\xF4", "\x90", "\x80", "\x80", "\"}"}, 1007},
        {"lone continuation byte", {head, "ok", "\x80", "\"}"}, 1007},
        {"0xFF alone", {head, "\xFF", "\"}"}, 1007},
        {"message ends inside a character", {head + "\"}", "\xF0\x9F", "\x98"}, 1007},
    };
    for (const auto& c : utf8_cases) {
        BOOST_TEST_CONTEXT(c.label)
        {
            raw_ws ws(f.port());
            next_json(ws);
            std::string bytes;
            for (std::size_t i = 0; i < c.pieces.size(); ++i) {
                bytes += ws_client_frame(
                    i == 0 ? ws_opcode::text : ws_opcode::continuation,
                    c.pieces[i],
                    i + 1 == c.pieces.size()
                );
            }
            ws.send_raw(bytes);
            BOOST_TEST(expect_raw_close(ws) == c.code);
        }
    }

    // Fragmentation that breaks the framing rules (RFC 6455 section 5.4): 1002.
    const auto text = [](std::string_view p, bool fin) {
        return ws_client_frame(ws_opcode::text, p, fin);
    };
    const auto cont = [](std::string_view p, bool fin) {
        return ws_client_frame(ws_opcode::continuation, p, fin);
    };
    const std::vector<std::pair<std::string, std::string>> framing_cases = {
        {"continuation with nothing to continue", cont(R"({"type":"ping"})", true)},
        {"new text frame inside a fragmented message",
         text(R"({"type":)", false) + text(R"({"type":"ping"})", true)},
        {"fragmented ping", ws_client_frame(ws_opcode::ping, "ab", false)},
        {"ping payload over 125 bytes", ws_client_frame(ws_opcode::ping, std::string(126, 'p'))},
    };
    for (const auto& [label, bytes] : framing_cases) {
        BOOST_TEST_CONTEXT(label)
        {
            raw_ws ws(f.port());
            next_json(ws);
            ws.send_raw(bytes);
            BOOST_TEST(expect_raw_close(ws) == 1002);
        }
    }
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
    ordinary_chat(f, "after the bad fragments");
}

// ---------------------------------------------------------------------------------------
// 5. Ping flood without reading (RFC 6455 pings and protocol pings, PROTOCOL.md section 2).

/// Frames written back to back, and where each one ends.
struct flood
{
    std::string bytes;
    std::vector<std::size_t> ends;

    void add(const std::string& frame)
    {
        bytes += frame;
        ends.push_back(bytes.size());
    }
};

/// Writes `f` without reading a byte: its first `must_take` frames with a generous
/// deadline (the relay must take that many before it pushes back), then on until all is
/// out or the relay has taken nothing for a second. A relay that answers every ping into
/// a socket nobody reads must stop reading at some point (TCP then pushes back on the
/// flooder) instead of queueing answers without bound. Returns the bytes written.
std::size_t flood_without_reading(raw_ws& ws, const flood& f, std::size_t must_take)
{
    const std::string_view all = f.bytes;
    const auto first = f.ends[must_take - 1];
    std::size_t written = ws.socket().write(all.substr(0, first), 60s);
    BOOST_TEST_REQUIRE(
        written == first,
        "the relay took " << written << " bytes of the first " << must_take << " frames (" << first
                          << " bytes)"
    );
    while (written < all.size()) {
        const auto n = ws.socket().write(all.substr(written), 1s);
        if (n == 0)
            break;
        written += n;
    }
    return written;
}

/// The flooder finally reads, first finishing the frame the pushback cut (when one was).
/// Each answer goes to `check` (which returns a problem or ""); returns the answers'
/// count, or nothing when the relay closed the connection (then `close_code` says why).
std::optional<std::size_t> read_answers(
    raw_ws& ws,
    std::string rest,
    std::size_t expected,
    const std::function<std::string(const ws_frame&, std::size_t)>& check,
    std::uint16_t& close_code
)
{
    std::string in;
    std::size_t answers = 0;
    std::vector<std::string> problems;
    const auto start = clock::now();
    const auto deadline = start + 120s;
    while (answers < expected && clock::now() < deadline) {
        const auto s = ws.socket().exchange(rest, in, 1s);
        std::size_t at = 0;
        while (auto fr = parse_ws_frame(in, at)) {
            if (fr->opcode == ws_opcode::close) {
                close_code = fr->close_code();
                BOOST_TEST(
                    problems.empty(),
                    problems.size() << " bad answers, first: " << first_of(problems)
                );
                return std::nullopt;
            }
            if (auto problem = check(*fr, answers); !problem.empty() && problems.size() < 10)
                problems.push_back(std::move(problem));
            ++answers;
        }
        in.erase(0, at);
        if (s == raw_socket::status::closed)
            break;
    }
    BOOST_TEST_MESSAGE(answers << " answers read in " << (clock::now() - start) / 1ms << " ms");
    BOOST_TEST(problems.empty(), problems.size() << " bad answers, first: " << first_of(problems));
    BOOST_TEST(rest.empty(), rest.size() << " bytes of the cut frame never taken");
    return answers;
}

/// Floods `ws` with `f`, checks that the flood ended in pushback, and returns the frames
/// sent (counting the one the pushback cut) and the bytes still owed of that frame.
std::pair<std::size_t, std::string>
flood_until_pushback(raw_ws& ws, const flood& f, std::size_t must_take, std::string_view what)
{
    const auto start = clock::now();
    const auto written = flood_without_reading(ws, f, must_take);
    BOOST_TEST_MESSAGE(
        what << ": " << written << " of " << f.bytes.size() << " bytes before reading, in "
             << (clock::now() - start) / 1ms << " ms"
    );
    BOOST_TEST(written < f.bytes.size(), "the relay read a whole flood of " << what);
    const auto cut = std::lower_bound(f.ends.begin(), f.ends.end(), written);
    const auto frames = static_cast<std::size_t>(cut - f.ends.begin()) + 1;
    return {std::min(frames, f.ends.size()), f.bytes.substr(written, *cut - written)};
}

/// Section 2 has no close code for a flood; if the relay ever closes a flooder, it must be
/// one that tells the client why.
void check_flood_close(std::uint16_t code)
{
    BOOST_TEST((code == 1008 || code == 1013), "close code " << code);
}

BOOST_AUTO_TEST_CASE(ping_flood_is_answered_in_bounded_memory, *scaled_timeout(300))
{
    // Each flood is several times what the kernel buffers on both ends took here before
    // pushing back (2 to 5 MB on loopback), so it can only end in pushback; the first
    // 10,000 frames of each kind go out before any reading.
    const std::size_t protocol_pings = 250'000; // about 10 MB of frames
    const std::size_t control_pings = 100'000;  // about 13 MB of frames
    const std::size_t before_reading = 10'000;
    relay_fixture f;
    const auto relay_pid = f.relay().pid();
    ordinary_chat(f, "warm up");
    const auto baseline = resident_bytes(relay_pid);
    const auto bound = baseline + rss_allowance;
    // A fixed 64 KiB send buffer keeps the unsent flood in this process (an autotuned one
    // grows to MiBs). The receive buffer is left alone: one fixed before connect also fixes
    // a tiny window scale, and the answers would trickle in once the flooders read.
    const raw_socket::options small = {.send_buffer = 64 * 1024};

    // Protocol pings: each answer waits in the connection's outbound queue, so only a bound
    // on that queue makes the relay stop reading.
    raw_ws chatty(f.port(), "/ws", small);
    BOOST_TEST(string_of(next_json(chatty), "type") == "session");
    auto chatty_flood = std::make_unique<flood>();
    for (std::size_t i = 0; i < protocol_pings; ++i)
        chatty_flood->add(ws_client_frame(
            ws_opcode::text, R"({"type":"ping","timestamp":)" + std::to_string(i) + "}"
        ));
    auto [chatty_frames, chatty_rest] =
        flood_until_pushback(chatty, *chatty_flood, before_reading, "protocol pings");
    chatty_flood.reset();

    // RFC 6455 pings at the 125-byte maximum: Beast answers them inside its read, so the
    // read itself must wait for the pong to go out.
    const auto ping_payload = [](std::size_t i) {
        auto p = std::to_string(i);
        p.resize(125, '.');
        return p;
    };
    raw_ws pinger(f.port(), "/ws", small);
    BOOST_TEST(string_of(next_json(pinger), "type") == "session");
    auto pinger_flood = std::make_unique<flood>();
    for (std::size_t i = 0; i < control_pings; ++i)
        pinger_flood->add(ws_client_frame(ws_opcode::ping, ping_payload(i)));
    auto [pinger_frames, pinger_rest] =
        flood_until_pushback(pinger, *pinger_flood, before_reading, "control pings");
    pinger_flood.reset();

    const auto rss_flooded = resident_bytes(relay_pid);
    BOOST_TEST(
        rss_flooded < bound,
        "RSS " << rss_flooded / mib << " MiB, baseline " << baseline / mib << " MiB"
    );
    ordinary_chat(f, "during two ping floods");

    // Now they read: every ping sent gets its pong, well-formed and in order.
    std::uint16_t close_code = 0;
    const auto pongs = read_answers(
        chatty,
        std::move(chatty_rest),
        chatty_frames,
        [](const ws_frame& fr, std::size_t i) -> std::string {
            error_code ec;
            const auto v =
                fr.opcode == ws_opcode::text ? json::parse(fr.payload, ec) : json::value();
            const auto* o = v.if_object();
            const auto* type = o ? o->if_contains("type") : nullptr;
            const auto* echo = o ? o->if_contains("client_timestamp") : nullptr;
            const bool is_pong = type && type->is_string() && type->get_string() == "pong";
            if (!is_pong || !echo || !echo->is_number() || number(*echo) != static_cast<double>(i))
                return "answer " + std::to_string(i) + ": " + fr.payload;
            return {};
        },
        close_code
    );
    if (pongs)
        BOOST_TEST(*pongs == chatty_frames);
    else
        check_flood_close(close_code);

    const auto control_pongs = read_answers(
        pinger,
        std::move(pinger_rest),
        pinger_frames,
        [&](const ws_frame& fr, std::size_t i) -> std::string {
            if (fr.opcode != ws_opcode::pong || fr.payload != ping_payload(i))
                return "answer " + std::to_string(i) + ": opcode " +
                       std::to_string(static_cast<int>(fr.opcode)) + " " + fr.payload;
            return {};
        },
        close_code
    );
    if (control_pongs)
        BOOST_TEST(*control_pongs == pinger_frames);
    else
        check_flood_close(close_code);

    // Both connections still work: a protocol ping gets the very next answer.
    for (auto* ws : {&chatty, &pinger}) {
        ws->send(ws_opcode::text, R"({"type":"ping","timestamp":-1})");
        const auto pong = next_json(*ws);
        BOOST_TEST(string_of(pong, "type") == "pong");
        BOOST_TEST(number(pong.at("client_timestamp")) == -1.0);
    }
    BOOST_TEST(resident_bytes(relay_pid) < bound);
    ordinary_chat(f, "after the ping floods");
}

// ---------------------------------------------------------------------------------------
// 6. Guessed session ids (PROTOCOL.md section 3: ids are bearer secrets).

constexpr std::string_view id_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::vector<std::pair<std::string, std::string>> guesses_for(const std::string& id)
{
    std::mt19937_64 rng(std::random_device{}());
    const auto random_id = [&] {
        std::string s;
        for (int i = 0; i < 22; ++i)
            s += id_alphabet[rng() % id_alphabet.size()];
        return s;
    };
    const auto changed_at = [&](std::size_t i) {
        auto s = id;
        s[i] = s[i] == 'A' ? 'B' : 'A';
        return s;
    };
    auto swapped_case = id;
    for (auto& c : swapped_case) {
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
        else if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    std::vector<std::pair<std::string, std::string>> g = {
        {"random 1", random_id()},
        {"random 2", random_id()},
        {"random 3", random_id()},
        {"all but the last character", id.substr(0, id.size() - 1)},
        {"first half", id.substr(0, id.size() / 2)},
        {"first character", id.substr(0, 1)},
        {"first character changed", changed_at(0)},
        {"middle character changed", changed_at(id.size() / 2)},
        {"last character changed", changed_at(id.size() - 1)},
        {"one character more", id + "A"},
        {"twice", id + id},
        {"id and 100 more", id + std::string(100, 'x')},
        {"id and 200 more", id + std::string(200, 'x')},
    };
    if (swapped_case != id)
        g.emplace_back("letter case swapped", swapped_case);
    return g;
}

/// After a failed resume the connection holds a session of its own: no replayed frame
/// comes before the answer to a ping.
void expect_nothing_replayed(ws_client& ws)
{
    ws.send({{"type", "ping"}, {"timestamp", 77}});
    const auto next = ws.read();
    BOOST_TEST(string_of(next, "type") == "pong", "frame " << next);
}

void expect_not_found_then_fresh(ws_client& ws, const std::string& real_id)
{
    const auto err = ws.read();
    BOOST_TEST(string_of(err, "type") == "error", "frame " << err);
    BOOST_TEST(string_of(err, "code") == "session_not_found", "frame " << err);
    const auto fresh = ws.read();
    BOOST_TEST_REQUIRE(string_of(fresh, "type") == "session", "frame " << fresh);
    BOOST_TEST(fresh.at("resumed") == json::value(false));
    BOOST_TEST(string_of(fresh, "session") != real_id);
    BOOST_TEST(integer(fresh, "last_seq") == 0);
    expect_nothing_replayed(ws);
}

void try_guesses(relay_fixture& f, const std::string& real_id)
{
    for (const auto& [label, guess] : guesses_for(real_id)) {
        BOOST_TEST_CONTEXT("query string, " << label << ": " << guess)
        {
            ws_client ws;
            const auto h = ws.handshake(f.port(), resume_target(guess, 0));
            BOOST_TEST_REQUIRE(!h.ec, h.ec.message());
            expect_not_found_then_fresh(ws, real_id);
            ws.close();
        }
        BOOST_TEST_CONTEXT("resume frame, " << label << ": " << guess)
        {
            ws_client ws;
            const auto own = ws.connect(f.port());
            ws.send(resume_frame(guess, 0));
            if (guess.size() > 128) {
                // The decoder refuses what cannot be an id (section 2: bad_request); the
                // connection keeps its own session.
                const auto err = ws.read();
                BOOST_TEST(string_of(err, "code") == "bad_request", "frame " << err);
                expect_nothing_replayed(ws);
            } else {
                expect_not_found_then_fresh(ws, real_id);
            }
            BOOST_TEST(string_of(own, "session") != real_id);
            ws.close();
        }
    }
    BOOST_TEST_CONTEXT("empty id in the query string: no resume at all")
    {
        ws_client ws;
        const auto first = ws.connect(f.port(), "/ws?session=&last_seq=0");
        BOOST_TEST(first.at("resumed") == json::value(false));
        BOOST_TEST(string_of(first, "session") != real_id);
        expect_nothing_replayed(ws);
        ws.close();
    }
    BOOST_TEST_CONTEXT("empty id in a resume frame")
    {
        ws_client ws;
        ws.connect(f.port());
        ws.send(resume_frame("", 0));
        const auto err = ws.read();
        BOOST_TEST(string_of(err, "code") == "bad_request", "frame " << err);
        expect_nothing_replayed(ws);
        ws.close();
    }
}

BOOST_AUTO_TEST_CASE(guessed_session_ids_get_nothing, *scaled_timeout(120))
{
    relay_fixture f;
    auto owner = f.open_session();
    const auto id = string_of(owner.frame, "session");
    BOOST_TEST_REQUIRE(id.size() == 22u);
    owner->send(chat_frame("the owner's conversation mock:tokens=6"));
    const auto real = owner->collect_reply();
    BOOST_TEST_REQUIRE(real.text == mock_words(6));

    // While the owner is attached: no guess takes the session over (that would close the
    // owner with 4001, section 3), so the owner's very next frame is its own pong.
    try_guesses(f, id);
    owner->send({{"type", "ping"}, {"timestamp", 1}});
    BOOST_TEST(string_of(owner->read(), "type") == "pong");

    // While it is detached and waiting for its owner.
    // Every connection so far (the owner's and the guessers') is gone before the next
    // round, so the owner's resume below cannot be a takeover of its own old connection.
    owner->drop();
    BOOST_TEST_REQUIRE(eventually(
        [&] {
            const auto m = scrape_metrics(f.port());
            return metric(m, "tokenrelay_open_connections") == 0 &&
                   metric(m, "tokenrelay_sessions{state=\"attached\"}") == 0;
        },
        10s
    ));
    try_guesses(f, id);

    // The owner gets everything back, exactly once.
    ws_client back;
    const auto resumed = back.connect(f.port(), resume_target(id, 0));
    check_resumed(resumed, id, 0);
    const auto replay = back.collect_reply();
    BOOST_TEST(replay.text == real.text);
    BOOST_TEST(check_seqs(replay, 0) == integer(real.end, "seq"));
    BOOST_TEST(string_of(replay.end, "id") == string_of(real.end, "id"));
    const auto m = scrape_metrics(f.port());
    BOOST_TEST(metric(m, "tokenrelay_sessions_resumed_total") == 1);
    BOOST_TEST(metric(m, "tokenrelay_sessions_taken_over_total") == 0);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

// ---------------------------------------------------------------------------------------
// 7. Static-file path tricks (PROTOCOL.md section 1).

const std::string page = "<!doctype html><title>hostile</title><p>the page</p>\n";
const std::string inner = "inner page\n";
const std::string secret = "TOP SECRET: outside the static directory\n";

/// root/secret.txt and root/www/secret.txt outside root/www/static; inside, the page, a
/// symlink out of the directory (file and directory) and one that stays inside.
struct hostile_site
{
    temp_dir root;
    std::filesystem::path dir = root / "www" / "static";

    hostile_site()
    {
        root.write_file("secret.txt", secret);
        root.write_file("www/secret.txt", secret);
        root.write_file("www/static/index.html", page);
        root.write_file("www/static/sub/inner.html", inner);
        std::filesystem::create_symlink(root / "secret.txt", dir / "escape.txt");
        std::filesystem::create_symlink("../../secret.txt", dir / "sub" / "relative-escape.txt");
        std::filesystem::create_directory_symlink(root / "www", dir / "sub" / "up");
        std::filesystem::create_symlink(dir / "index.html", dir / "alias.html");
    }
};

http_result raw_get(std::uint16_t port, std::string_view target)
{
    return http_raw(
        port,
        "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
}

BOOST_AUTO_TEST_CASE(static_path_tricks_never_leave_the_directory, *scaled_timeout(120))
{
    hostile_site site;
    relay_fixture f{{.static_dir = site.dir.string()}};
    const auto abs = site.root.path().string();

    // Sent as raw request lines, so no client library tidies them up first.
    const std::vector<std::string> targets = {
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e/%2e%2e/secret.txt",
        "/%2E%2e/secret.txt",
        "/%2e%2E/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/..%2fsecret.txt",
        "/..%2F..%2Fsecret.txt",
        "/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/%25252e%25252e/secret.txt",
        "/..\\secret.txt",
        "/..\\..\\secret.txt",
        "/\\..\\..\\secret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5c%2e%2e%5csecret.txt",
        "/index.html%00",
        "/%00/../secret.txt",
        "/../secret.txt%00.html",
        "/%2e%2e/secret.txt%00index.html",
        "//etc/passwd",
        "///etc/passwd",
        "//../secret.txt",
        "/static/../../secret.txt",
        "/static/%2e%2e/%2e%2e/secret.txt",
        "/sub/../../secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afsecret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/%c0%2e%c0%2e/secret.txt",
        "/..;/secret.txt",
        "/....//secret.txt",
        "/.../.../secret.txt",
        "/%u002e%u002e/secret.txt",
        "/%2e%2e",
        "/..",
        "/%",
        "/%2",
        "/%zz/secret.txt",
        "/escape.txt",
        "/sub/relative-escape.txt",
        "/sub/up/secret.txt",
        "/sub/up/static/../secret.txt",
        "/sub/up/static/escape.txt",
        "/" + abs + "/secret.txt",
        abs + "/secret.txt",
        "/../../../../../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/../../../../../../../../proc/self/environ",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/proc/self/environ",
        "/proc/self/environ",
        "http://127.0.0.1/../secret.txt",
        "file:///etc/passwd",
        "../secret.txt",
        "*",
    };
    for (const auto& target : targets) {
        BOOST_TEST_CONTEXT(target)
        {
            const auto r = raw_get(f.port(), target);
            BOOST_TEST((r.status == 400u || r.status == 403u || r.status == 404u), r.status);
            BOOST_TEST(r.body.find("TOP SECRET") == std::string::npos);
            BOOST_TEST(r.body.find("root:") == std::string::npos);
            BOOST_TEST(r.body.find("TOKENRELAY") == std::string::npos);
            BOOST_TEST(r.body.find(test_api_key) == std::string::npos);
        }
    }
    BOOST_TEST_CONTEXT("a raw NUL byte in the request line")
    {
        const auto r = raw_get(f.port(), std::string("/index.html\0/../../secret.txt", 29));
        BOOST_TEST((r.status == 400u || r.status == 404u), r.status);
        BOOST_TEST(r.body.find("TOP SECRET") == std::string::npos);
    }
    BOOST_TEST_CONTEXT("HEAD with a traversal")
    {
        // A response to HEAD has no body whatever its Content-Length says, which a generic
        // response parser cannot know: read the raw answer up to the relay's close.
        raw_socket sock(f.port());
        const std::string request = "HEAD /%2e%2e/%2e%2e/secret.txt HTTP/1.1\r\n"
                                    "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
        BOOST_TEST_REQUIRE(sock.write(request, 5s) == request.size());
        std::string answer;
        BOOST_TEST_REQUIRE(sock.wait_closed(10s, &answer));
        BOOST_TEST(
            (answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400")), answer
        );
        BOOST_TEST(answer.find("TOP SECRET") == std::string::npos);
    }

    // Positive controls: the same relay serves what is inside, through a symlink that stays
    // inside too, and a query string is not part of the path.
    const std::vector<std::pair<std::string, std::string>> inside = {
        {"/", page},
        {"/index.html", page},
        {"/alias.html", page},
        {"/sub/inner.html", inner},
        {"/sub/./inner.html", inner},
        {"/?/../../secret.txt", page},
        {"/index.html?file=../../secret.txt", page},
    };
    for (const auto& [target, body] : inside) {
        BOOST_TEST_CONTEXT("inside: " << target)
        {
            const auto r = raw_get(f.port(), target);
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(r.body == body);
        }
    }
}

} // namespace
} // namespace tokenrelay::test
