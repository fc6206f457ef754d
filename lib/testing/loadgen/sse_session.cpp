// --sse: sessions that POST OpenAI-compatible streaming requests and read the server-sent
// events themselves, so the relay can be compared with a plain SSE proxy (nginx) in front
// of the same mock.

#include <algorithm>
#include <testing/loadgen/detail/worker.hpp>
#include <testing/loadgen/reply_check.hpp>

namespace tokenrelay::loadgen::detail {
namespace {

constexpr std::size_t read_chunk = 16 * 1024;

http::request<http::string_body> make_request(const shared_run& run)
{
    http::request<http::string_body> req{http::verb::post, run.url.path, 11};
    req.set(http::field::host, run.url.host + ":" + std::to_string(run.url.port));
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "text/event-stream");
    req.keep_alive(true);
    req.body() = completions_body(run.opts.model, run.chat_text);
    req.prepare_payload();
    return req;
}

struct sse_reply
{
    explicit sse_reply(std::size_t tokens) : check(tokens) {}
    reply_check check;
    std::int64_t sent_us = 0;
    bool got_first = false;
    bool done = false;   // [DONE] seen
    bool failed = false; // an error event or bad JSON
    std::string finish_reason;
};

void on_data(
    worker& w,
    shared_run& run,
    sse_reply& r,
    std::vector<std::int64_t>& stamps,
    std::string_view data
)
{
    auto& m = w.m;
    auto chunk = w.sse_decoder.decode(data);
    if (chunk.done) {
        r.done = true;
        return;
    }
    if (chunk.error) {
        r.failed = true;
        return;
    }
    if (!chunk.finish_reason.empty())
        r.finish_reason = chunk.finish_reason;
    if (chunk.content.empty())
        return;
    ++m.frames;
    const auto now = run.now_us();
    if (!r.got_first) {
        r.got_first = true;
        m.ttft_us.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - r.sent_us)));
    }
    stamps.clear();
    m.tokens += r.check.feed(chunk.content, stamps);
    if (!stamps.empty()) {
        const auto unix_now = unix_micros();
        for (const auto stamp : stamps)
            m.token_latency_us.record(
                static_cast<std::uint64_t>(std::max<std::int64_t>(0, unix_now - stamp))
            );
    }
    if (m.first_token_us < 0)
        m.first_token_us = now;
    m.last_token_us = now;
}

enum class outcome { next, end_session };

/// One request and its streamed response; `lost` when the connection failed.
awaitable<std::optional<outcome>> exchange(
    beast::tcp_stream& stream,
    beast::flat_buffer& buf,
    const http::request<http::string_body>& req,
    worker& w,
    shared_run& run,
    std::vector<std::int64_t>& stamps
)
{
    auto& m = w.m;
    sse_reply r(run.opts.tokens);
    ++m.replies_started;
    r.sent_us = run.now_us();
    auto [write_ec, written] = co_await http::async_write(stream, req, use_tuple);
    if (write_ec)
        co_return std::nullopt;
    http::response_parser<http::buffer_body> p;
    p.body_limit(boost::none);
    auto [header_ec, header_bytes] = co_await http::async_read_header(stream, buf, p, use_tuple);
    if (header_ec)
        co_return std::nullopt;
    const auto status = p.get().result_int();
    sse_lines lines;
    char tmp[read_chunk];
    while (!p.is_done()) {
        p.get().body().data = tmp;
        p.get().body().size = sizeof tmp;
        auto [ec, n] = co_await http::async_read_some(stream, buf, p, use_tuple);
        if (ec == http::error::need_buffer)
            ec = {};
        if (ec)
            co_return std::nullopt;
        if (status != 200)
            continue;
        const auto got = sizeof tmp - p.get().body().size;
        lines.feed({tmp, got}, [&](std::string_view data) { on_data(w, run, r, stamps, data); });
    }
    if (status != 200) {
        m.error("http_" + std::to_string(status));
        ++m.replies_refused;
    } else {
        ++m.replies_completed;
        if (r.failed)
            m.error("sse_error");
        else if (!r.done)
            m.error("sse_no_done");
        else if (r.finish_reason != "stop")
            m.error("end_" + (r.finish_reason.empty() ? std::string("unknown") : r.finish_reason));
        if (r.done && !r.failed && r.finish_reason == "stop" && r.check.exact())
            ++m.replies_exact;
        else
            ++m.replies_mismatched;
    }
    co_return p.keep_alive() ? outcome::next : outcome::end_session;
}

} // namespace

awaitable<void> run_sse_session(worker& w, shared_run& run, std::size_t index)
{
    const auto& o = run.opts;
    auto& m = w.m;
    beast::tcp_stream stream(co_await net::this_coro::executor);
    worker::socket_entry entry(w, stream.socket());
    const auto t0 = run.now_us();
    const auto ec = co_await connect_from(stream, run, index);
    run.connected.fetch_add(1, std::memory_order_acq_rel);
    if (ec) {
        m.error(ec == beast::error::timeout ? "connect_timeout" : "connect");
        ++m.sessions_failed;
        co_return;
    }
    ++m.sessions_opened;
    m.connect_us.record(static_cast<std::uint64_t>(run.now_us() - t0));

    const auto req = make_request(run);
    beast::flat_buffer buf;
    std::vector<std::int64_t> stamps;
    const auto think = std::chrono::milliseconds(o.think_ms);
    if (o.think_ms > 0) {
        const auto first =
            clock::now() +
            std::chrono::microseconds(w.uniform_us(static_cast<std::int64_t>(o.think_ms) * 1000));
        const bool slept = co_await sleep_until(std::min(first, run.soft_end));
        if (!slept)
            co_return;
    }
    std::size_t chats = 0;
    while (clock::now() < run.soft_end && !run.closing.load(std::memory_order_relaxed)) {
        const auto result = co_await exchange(stream, buf, req, w, run, stamps);
        ++chats;
        if (!result) {
            if (run.closing.load(std::memory_order_relaxed))
                ++m.replies_abandoned;
            else
                m.error("connection_lost");
            co_return;
        }
        if (*result == outcome::end_session ||
            (o.chats_per_session > 0 && chats >= o.chats_per_session))
            break;
        if (think.count() > 0) {
            const bool slept = co_await sleep_until(std::min(clock::now() + think, run.soft_end));
            if (!slept)
                break;
        }
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
}

} // namespace tokenrelay::loadgen::detail
