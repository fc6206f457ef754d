// The WebSocket session patterns of the load generator (PROTOCOL.md sections 2 and 3).

#include <algorithm>
#include <netinet/in.h>
#include <sys/socket.h>
#include <testing/loadgen/detail/worker.hpp>
#include <testing/loadgen/reply_check.hpp>
#include <variant>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 // linux/in.h, Linux 4.2
#endif

namespace tokenrelay::loadgen::detail {
namespace {

using namespace net::experimental::awaitable_operators;
using ws_stream = websocket::stream<beast::tcp_stream>;

constexpr auto connect_timeout = std::chrono::seconds(10);
// After a refused chat (rate_limited, busy): do not hammer the relay with zero think time.
constexpr auto refused_backoff = std::chrono::milliseconds(200);

struct session_state
{
    std::string id;             // the relay's session id
    std::uint64_t last_seq = 0; // highest seq received (section 2)
    std::uint64_t chats = 0;
    std::vector<std::int64_t> stamps;
    beast::flat_buffer buffer;
};

struct reply_state
{
    explicit reply_state(std::size_t tokens) : check(tokens) {}
    std::string id;
    reply_check check;
    std::int64_t sent_us = 0;
    std::size_t round = 0; // burst: 1-based round, 0 otherwise
    bool got_first = false;
    bool seq_broken = false;
    bool want_pong = false;
};

enum class reply_end { done, refused, lost };

bool is_refusal(std::string_view code)
{
    // Section 2: these answer a chat instead of starting a generation (no stream_end).
    return code == "busy" || code == "rate_limited" || code == "overloaded" ||
           code == "bad_request" || code == "bad_json" || code == "unknown_type";
}

std::optional<reply_end>
on_frame(worker& w, shared_run& run, session_state& s, reply_state& r, const server_frame& f)
{
    auto& m = w.m;
    switch (f.type) {
    case frame_type::token: {
        ++m.frames;
        const auto now = run.now_us();
        if (!r.got_first) {
            r.got_first = true;
            m.ttft_us.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - r.sent_us))
            );
            if (r.round > 0 && r.round <= m.round_ttft_us.size())
                m.round_ttft_us[r.round - 1].record(
                    static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - r.sent_us))
                );
        }
        s.stamps.clear();
        const auto n = r.check.feed(f.content, s.stamps);
        m.tokens += n;
        if (!s.stamps.empty()) {
            const auto unix_now = unix_micros();
            for (const auto stamp : s.stamps)
                m.token_latency_us.record(
                    static_cast<std::uint64_t>(std::max<std::int64_t>(0, unix_now - stamp))
                );
        }
        if (m.first_token_us < 0)
            m.first_token_us = now;
        m.last_token_us = now;
        // Section 2: a joined frame carries the seq of its last token.
        if (f.seq) {
            if (*f.seq != s.last_seq + n) {
                r.seq_broken = true;
                ++m.seq_errors;
            }
            s.last_seq = std::max(s.last_seq, *f.seq);
        }
        return std::nullopt;
    }
    case frame_type::reasoning:
        ++m.frames;
        if (f.seq)
            s.last_seq = std::max(s.last_seq, *f.seq);
        return std::nullopt;
    case frame_type::user:
        // Section 2: the chat's question, one seq before its first token.
        if (f.seq) {
            if (*f.seq != s.last_seq + 1) {
                r.seq_broken = true;
                ++m.seq_errors;
            }
            s.last_seq = std::max(s.last_seq, *f.seq);
        }
        return std::nullopt;
    case frame_type::stream_end: {
        if (f.seq) {
            if (*f.seq != s.last_seq + 1) {
                r.seq_broken = true;
                ++m.seq_errors;
            }
            s.last_seq = std::max(s.last_seq, *f.seq);
        }
        ++m.replies_completed;
        // The tutorial's stream_end has no reason: a whole reply is its only ending.
        const std::string_view reason =
            f.reason.empty() && run.opts.tutorial ? std::string_view("stop") : f.reason;
        if (reason != "stop")
            m.error("end_" + (reason.empty() ? std::string("unknown") : std::string(reason)));
        const bool exact = reason == "stop" && r.check.exact() && !r.seq_broken;
        if (exact) {
            ++m.replies_exact;
            if (r.round > 0 && r.round <= m.round_exact.size())
                ++m.round_exact[r.round - 1];
        } else {
            ++m.replies_mismatched;
        }
        return reply_end::done;
    }
    case frame_type::error:
        m.error(f.code.empty() ? std::string("error") : f.code);
        if (is_refusal(f.code) && !r.want_pong) {
            ++m.replies_refused;
            return reply_end::refused;
        }
        return std::nullopt;
    case frame_type::pong:
        ++m.pongs;
        if (r.want_pong)
            return reply_end::done;
        return std::nullopt;
    case frame_type::session:
    case frame_type::other:
        break;
    }
    return std::nullopt;
}

awaitable<reply_end>
read_reply(ws_stream& ws, worker& w, shared_run& run, session_state& s, reply_state& r)
{
    for (;;) {
        s.buffer.clear();
        auto [ec, n] = co_await ws.async_read(s.buffer, use_tuple);
        if (ec)
            co_return reply_end::lost;
        const auto data = s.buffer.cdata();
        server_frame f;
        if (!w.decoder.decode({static_cast<const char*>(data.data()), data.size()}, f)) {
            w.m.error("bad_frame");
            continue;
        }
        if (auto end = on_frame(w, run, s, r, f))
            co_return *end;
    }
}

awaitable<bool> send_text(ws_stream& ws, const std::string& text)
{
    auto [ec, n] = co_await ws.async_write(net::buffer(text), use_tuple);
    co_return !ec;
}

/// Connects, upgrades and (unless --tutorial) reads up to the `session` frame.
awaitable<bool> open_ws(
    ws_stream& ws,
    worker& w,
    shared_run& run,
    std::size_t index,
    const std::string& path,
    session_state& s,
    bool& resumed
)
{
    auto& m = w.m;
    const auto t0 = run.now_us();
    const auto connect_ec = co_await connect_from(beast::get_lowest_layer(ws), run, index);
    if (const auto& ec = connect_ec; ec) {
        m.error(ec == beast::error::timeout ? "connect_timeout" : "connect");
        co_return false;
    }
    websocket::stream_base::timeout t{};
    t.handshake_timeout = connect_timeout;
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws.set_option(t);
    websocket::response_type res;
    const auto host = run.url.host + ":" + std::to_string(run.url.port);
    auto [hs_ec] = co_await ws.async_handshake(res, host, path, use_tuple);
    if (hs_ec) {
        // Beast presets the response to 500 before the handshake: only a declined upgrade
        // carries a status the relay sent (401, 403, 503 per PROTOCOL.md section 2).
        if (hs_ec == websocket::error::upgrade_declined)
            m.error("http_" + std::to_string(res.result_int()));
        else if (hs_ec == beast::error::timeout)
            m.error("handshake_timeout");
        else
            m.error("handshake_failed");
        co_return false;
    }
    ws.text(true);
    if (run.opts.tutorial) {
        m.connect_us.record(static_cast<std::uint64_t>(run.now_us() - t0));
        co_return true;
    }
    // Section 2: `session` is the first frame; a failed resume sends an error before it.
    for (;;) {
        s.buffer.clear();
        auto [ec, n] = co_await ws.async_read(s.buffer, use_tuple);
        if (ec) {
            m.error("closed_before_session");
            co_return false;
        }
        const auto data = s.buffer.cdata();
        server_frame f;
        if (!w.decoder.decode({static_cast<const char*>(data.data()), data.size()}, f)) {
            m.error("bad_frame");
            continue;
        }
        if (f.type == frame_type::error) {
            m.error(f.code);
            continue;
        }
        if (f.type != frame_type::session) {
            m.error("no_session_frame");
            co_return false;
        }
        s.id = f.session;
        resumed = f.resumed;
        if (!resumed)
            s.last_seq = f.last_seq;
        m.connect_us.record(static_cast<std::uint64_t>(run.now_us() - t0));
        co_return true;
    }
}

awaitable<void> close_ws(ws_stream& ws)
{
    co_await ws.async_close(websocket::close_code::normal, use_tuple);
}

awaitable<bool> sleep_until_or_end(clock::time_point t, const shared_run& run)
{
    const bool slept = co_await sleep_until(std::min(t, run.soft_end));
    co_return slept;
}

/// One chat: send, then read to its stream_end. Sets `r.sent_us`.
awaitable<reply_end>
chat_once(ws_stream& ws, worker& w, shared_run& run, session_state& s, reply_state& r)
{
    r.id = "c" + std::to_string(++s.chats);
    ++w.m.replies_started;
    r.sent_us = run.now_us();
    const auto frame = chat_frame(run.chat_text, r.id, run.opts.tutorial);
    const bool sent = co_await send_text(ws, frame);
    if (!sent)
        co_return reply_end::lost;
    const auto end = co_await read_reply(ws, w, run, s, r);
    co_return end;
}

void count_lost(worker& w, const shared_run& run, bool mid_reply)
{
    if (run.closing.load(std::memory_order_relaxed)) {
        if (mid_reply)
            ++w.m.replies_abandoned;
    } else {
        w.m.error("connection_lost");
    }
}

awaitable<void> chat_pattern(ws_stream& ws, worker& w, shared_run& run, session_state& s)
{
    const auto& o = run.opts;
    const auto think = std::chrono::milliseconds(o.think_ms);
    // Spread the first chats over one think time so the crowd does not move in step.
    if (o.think_ms > 0) {
        const auto first =
            clock::now() +
            std::chrono::microseconds(w.uniform_us(static_cast<std::int64_t>(o.think_ms) * 1000));
        const bool slept = co_await sleep_until_or_end(first, run);
        if (!slept)
            co_return;
    }
    while (clock::now() < run.soft_end && !run.closing.load(std::memory_order_relaxed)) {
        reply_state r(o.tokens);
        const auto end = co_await chat_once(ws, w, run, s, r);
        if (end == reply_end::lost) {
            count_lost(w, run, true);
            co_return;
        }
        if (o.chats_per_session > 0 && s.chats >= o.chats_per_session)
            break;
        const auto pause = end == reply_end::refused
                               ? std::max<clock::duration>(think, refused_backoff)
                               : clock::duration(think);
        if (pause.count() > 0) {
            const bool slept = co_await sleep_until_or_end(clock::now() + pause, run);
            if (!slept)
                co_return;
        }
    }
    co_await close_ws(ws);
}

awaitable<void> idle_pattern(ws_stream& ws, worker& w, shared_run& run, session_state& s)
{
    const auto interval =
        std::chrono::microseconds(static_cast<std::int64_t>(run.opts.ping_interval_s * 1e6));
    auto next = clock::now() + std::chrono::microseconds(w.uniform_us(interval.count()));
    // The session stays open until the end of the run, pinging on its schedule: with a
    // ping interval longer than what is left, it must still be held, not closed, or the
    // idle scenario would measure far fewer open connections than it reports.
    for (;;) {
        const bool slept = co_await sleep_until_or_end(next, run);
        if (!slept)
            co_return;
        if (next >= run.soft_end)
            break;
        reply_state r(0);
        r.want_pong = true;
        ++w.m.pings;
        const auto ping = ping_frame(unix_micros() / 1000);
        const bool sent = co_await send_text(ws, ping);
        auto end = reply_end::lost;
        if (sent)
            end = co_await read_reply(ws, w, run, s, r);
        if (end == reply_end::lost) {
            count_lost(w, run, false);
            co_return;
        }
        next += interval;
    }
    co_await close_ws(ws);
}

awaitable<void> burst_pattern(ws_stream& ws, worker& w, shared_run& run, session_state& s)
{
    const auto& o = run.opts;
    for (std::size_t round = 1; round <= o.rounds; ++round) {
        co_await reach_phase(w, run, round);
        if (run.closing.load(std::memory_order_relaxed))
            co_return;
        const auto go =
            run.at_us(run.released_at_us[round].load()) +
            std::chrono::microseconds(w.uniform_us(static_cast<std::int64_t>(o.spread_ms) * 1000));
        const bool slept = co_await sleep_until(go);
        if (!slept)
            co_return;
        reply_state r(o.tokens);
        r.round = round;
        const auto end = co_await chat_once(ws, w, run, s, r);
        if (end == reply_end::lost) {
            count_lost(w, run, true);
            co_return;
        }
    }
    co_await close_ws(ws);
}

awaitable<void> reconnect_pattern(
    std::unique_ptr<ws_stream> ws, worker& w, shared_run& run, session_state& s, std::size_t index
)
{
    const auto& o = run.opts;
    auto& m = w.m;
    std::optional<worker::socket_entry> entry(
        std::in_place, w, beast::get_lowest_layer(*ws).socket()
    );
    co_await reach_phase(w, run, 1);
    if (run.closing.load(std::memory_order_relaxed))
        co_return;
    const auto released = run.released_at_us[1].load();
    const auto go =
        run.at_us(released) +
        std::chrono::microseconds(w.uniform_us(static_cast<std::int64_t>(o.spread_ms) * 1000));
    const auto drop_at =
        run.at_us(released) + std::chrono::milliseconds(o.spread_ms + o.drop_after_ms);
    const bool slept = co_await sleep_until(go);
    if (!slept)
        co_return;

    reply_state r(o.tokens);
    auto first = co_await (chat_once(*ws, w, run, s, r) || sleep_until(drop_at));
    if (first.index() == 0) {
        // The reply ended (or the connection did) before the drop: not part of the storm.
        if (std::get<0>(first) == reply_end::lost)
            count_lost(w, run, true);
        else
            co_await close_ws(*ws);
        co_return;
    }

    // Section 3: the connection drops (no close handshake); the session and its generation
    // live on, and a new connection resumes after the last seq this one received.
    ++m.drops;
    const auto dropped_us = run.now_us();
    {
        error_code ignored;
        beast::get_lowest_layer(*ws).socket().close(ignored);
    }
    entry.reset();
    ws.reset();

    ws_stream again(co_await net::this_coro::executor);
    worker::socket_entry again_entry(w, beast::get_lowest_layer(again).socket());
    auto path = with_query(run.url.path, "session", s.id);
    path = with_query(path, "last_seq", std::to_string(s.last_seq));
    bool resumed = false;
    const bool reopened = co_await open_ws(again, w, run, index, path, s, resumed);
    if (!reopened) {
        ++m.replies_abandoned;
        co_return;
    }
    if (!resumed) {
        m.error("not_resumed");
        ++m.replies_abandoned;
        co_await close_ws(again);
        co_return;
    }
    ++m.resumed;
    const auto end = co_await read_reply(again, w, run, s, r);
    if (end == reply_end::lost) {
        count_lost(w, run, true);
        co_return;
    }
    const auto took = run.now_us() - dropped_us;
    m.resume_us.record(static_cast<std::uint64_t>(took));
    if (end == reply_end::done && r.check.exact() && !r.seq_broken &&
        took <= static_cast<std::int64_t>(o.resume_deadline_s * 1e6))
        ++m.resumed_exact_in_time;
    co_await close_ws(again);
}

} // namespace

awaitable<error_code> connect_from(beast::tcp_stream& s, const shared_run& run, std::size_t index)
{
    auto& sock = s.socket();
    error_code ec;
    sock.open(run.endpoint.protocol(), ec);
    if (ec)
        co_return ec;
    if (run.loopback) {
        // Many sessions need more than one address's ephemeral ports: bind each to
        // 127.0.0.(1 + index / per_address), letting connect() pick the port per 4-tuple.
        const int one = 1;
        ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        const auto k = static_cast<std::uint32_t>(index / run.opts.per_address);
        sock.bind(tcp::endpoint(net::ip::address_v4(0x7F000001u + k), 0), ec);
        if (ec)
            co_return ec;
    }
    s.expires_after(connect_timeout);
    auto [cec] = co_await s.async_connect(run.endpoint, use_tuple);
    s.expires_never();
    co_return cec;
}

awaitable<bool> sleep_until(clock::time_point t)
{
    net::steady_timer timer(co_await net::this_coro::executor, t);
    auto [ec] = co_await timer.async_wait(use_tuple);
    co_return !ec;
}

awaitable<void> reach_phase(worker& w, shared_run& run, std::size_t p)
{
    run.arrived[p].fetch_add(1, std::memory_order_acq_rel);
    // The timer never expires (set once by the runner); a release cancels every wait.
    while (run.released_phase.load(std::memory_order_acquire) < p &&
           !run.closing.load(std::memory_order_relaxed))
        co_await w.phase_timer.async_wait(use_tuple);
}

std::int64_t unix_micros() noexcept
{
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

awaitable<void> run_ws_session(worker& w, shared_run& run, std::size_t index)
{
    auto ws = std::make_unique<ws_stream>(co_await net::this_coro::executor);
    std::optional<worker::socket_entry> entry;
    entry.emplace(w, beast::get_lowest_layer(*ws).socket());
    session_state s;
    bool resumed = false;
    const bool opened = co_await open_ws(*ws, w, run, index, run.url.path, s, resumed);
    run.connected.fetch_add(1, std::memory_order_acq_rel);
    if (!opened) {
        ++w.m.sessions_failed;
        co_return;
    }
    ++w.m.sessions_opened;
    switch (run.opts.mode) {
    case pattern::chat:
        co_await chat_pattern(*ws, w, run, s);
        break;
    case pattern::idle:
        co_await idle_pattern(*ws, w, run, s);
        break;
    case pattern::burst:
        co_await burst_pattern(*ws, w, run, s);
        break;
    case pattern::reconnect:
        entry.reset();
        co_await reconnect_pattern(std::move(ws), w, run, s, index);
        break;
    }
}

} // namespace tokenrelay::loadgen::detail
