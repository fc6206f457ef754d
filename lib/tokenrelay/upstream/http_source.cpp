// One generation against an OpenAI-compatible server: POST, status, then the SSE body
// turned into stream events (PROTOCOL.md section 6). Retries happen only before the first
// token; every failure message has the key redacted (section 1).
#include <tokenrelay/core/draining_read_buffer.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/core/redact.hpp>
#include <tokenrelay/core/stream_redactor.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/sse/anthropic_decoder.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>
#include <tokenrelay/sse/parser.hpp>
#include <tokenrelay/upstream/http_source.hpp>
#include <tokenrelay/upstream/read_watchdog.hpp>
#include <tokenrelay/upstream/request_body.hpp>

#include <boost/beast/core/read_size.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace tokenrelay::upstream {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using response_parser = http::response_parser<http::buffer_body>;

constexpr std::size_t max_error_body = 64 * 1024;
constexpr std::size_t max_error_text = 512;
// After [DONE] the rest of the body (the last chunk) is read only so the connection can
// be reused; a server that dawdles past this gets its connection closed instead.
constexpr milliseconds drain_limit{1000};
constexpr std::size_t drain_bytes = 64 * 1024;

// State shared by the attempts of one stream() call.
struct call_state
{
    http::request<http::string_body>& request;
    event_channel& out;
    const http_source_options& options;
    clock::time_point first_token_deadline;
    // The deadline of the read in progress: the connection's expiry holds it up to the
    // response header, the body's read_watchdog after that.
    clock::time_point read_deadline;
    bool token_sent = false;
};

enum class verdict {
    done,  // finished was sent
    retry, // failure is retryable if no token was sent
    fail,  // failure is final
    stale, // a reused connection broke before any response byte: reconnect, uncounted
};

struct attempt_result
{
    verdict kind = verdict::fail;
    stream_event failure; // retry and fail: the failed event to send
    std::optional<milliseconds> retry_after;
    bool reusable = false; // the response was read to the end and the server keeps alive
};

std::string seconds_text(milliseconds d)
{
    if (d.count() % 1000 == 0)
        return std::to_string(d.count() / 1000) + "s";
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d.count() / 1000.0);
    return std::string(buf, ec == std::errc{} ? end : buf) + "s";
}

// Asio's messages start with a capital ("Connection refused"); ours continue a sentence.
std::string describe(const error_code& ec)
{
    if (ec == beast::error::timeout)
        return "timed out";
    std::string m = ec.message();
    if (!m.empty() && m[0] >= 'A' && m[0] <= 'Z' && !(m.size() > 1 && m[1] >= 'A' && m[1] <= 'Z'))
        m[0] = static_cast<char>(m[0] - 'A' + 'a');
    return m;
}

attempt_result
failure(verdict kind, errc code, std::string message, int status, const call_state& c)
{
    attempt_result r;
    r.kind = kind;
    r.failure = stream_event::failed(code, redact(message, c.options.api_key), status);
    return r;
}

attempt_result timeout_failure(const call_state& c, int status)
{
    return failure(
        verdict::fail,
        errc::timeout,
        c.token_sent ? "no token within " + seconds_text(c.options.token_timeout)
                     : "no first token within " + seconds_text(c.options.first_token_timeout),
        status,
        c
    );
}

bool timed_out(const error_code& ec, const call_state& c)
{
    return ec == beast::error::timeout || (ec && clock::now() >= c.read_deadline);
}

// Cancellation ends stream() with an exception and no further event, even when the
// caller turned throw_if_cancelled off. Not a coroutine (it runs for every token): the
// caller passes `co_await net::this_coro::cancellation_state`, read into a variable
// first because GCC 12 miscompiles a co_await used directly as an if condition.
void throw_if_cancelled(const net::cancellation_state& state)
{
    if (is_cancelled(state))
        throw boost::system::system_error(net::error::operation_aborted);
}

/// Hands `ev` to the channel without suspending: mid-reply the pump is usually already
/// waiting, and try_send then saves a scheduler round trip, and without a coroutine frame
/// (issue 7: this runs for every token). False when the channel is full, and `ev` is then
/// left as it was for send_event, which waits for room.
bool hand_over(call_state& c, stream_event& ev, const net::cancellation_state& state)
{
    throw_if_cancelled(state);
    return c.out.try_send(error_code{}, std::move(ev));
}

awaitable<void> send_event(call_state& c, stream_event ev)
{
    const auto state = co_await net::this_coro::cancellation_state;
    if (!hand_over(c, ev, state))
        co_await c.out.async_send(error_code{}, std::move(ev), net::use_awaitable);
}

stream_event text_event(call_state& c, stream_event::kind kind, std::string_view text)
{
    c.token_sent = true;
    stream_event ev;
    ev.type = kind;
    ev.text = text;
    return ev;
}

/// A reply's text as it goes out: a kind of delta, where the chunk decoder puts it, and
/// what keeps the upstream key out of it (stream_redactor.hpp: an upstream that echoes
/// the key in a successful reply must not reach the client with it).
struct text_delta
{
    stream_event::kind kind;
    const std::string* text;
    stream_redactor* redactor;
};

/// Sends what the redactors still hold back, before the reply's end.
template <std::size_t N>
awaitable<void> send_held_text(call_state& c, const std::array<text_delta, N>& deltas)
{
    for (const auto& d : deltas) {
        const auto rest = d.redactor->flush();
        if (rest.empty())
            continue;
        // Named: GCC 12 mishandles class-type temporaries in co_await operands.
        auto ev = text_event(c, d.kind, rest);
        co_await send_event(c, std::move(ev));
    }
}

// The silence timer restarts only after the send: a slow consumer holding the bounded
// channel is not upstream silence (PROTOCOL.md section 5).
void extend_read_deadline(call_state& c, read_watchdog& watchdog)
{
    c.read_deadline = clock::now() + c.options.token_timeout;
    // After the first token the deadline can come earlier (--token-timeout is shorter
    // than what was left of --first-token-timeout).
    watchdog.deadline_moved();
}

std::string cut(std::string_view s, std::size_t limit)
{
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
        s.remove_suffix(1);
    if (s.size() <= limit)
        return std::string(s);
    // Back off to a UTF-8 sequence boundary.
    while (limit > 0 && (static_cast<unsigned char>(s[limit]) & 0xC0) == 0x80)
        --limit;
    return std::string(s.substr(0, limit)) + "…";
}

// OpenAI and most compatible servers say {"error":{"message":…}}; some put a string in
// `error`, or use `message` or `detail` at the top level.
std::string error_text(std::string_view body, std::string_view reason, int status)
{
    error_code ec;
    const auto jv = boost::json::parse(body, ec);
    if (!ec)
        if (const auto* o = jv.if_object()) {
            if (const auto* e = o->if_contains("error")) {
                if (const auto* s = e->if_string())
                    return cut(*s, max_error_text);
                if (const auto* eo = e->if_object())
                    if (const auto* m = eo->if_contains("message"))
                        if (const auto* s = m->if_string())
                            return cut(*s, max_error_text);
            }
            for (const char* key : {"message", "detail"})
                if (const auto* m = o->if_contains(key))
                    if (const auto* s = m->if_string())
                        return cut(*s, max_error_text);
        }
    if (auto text = cut(body, max_error_text); !text.empty())
        return text;
    if (!reason.empty())
        return std::string(reason);
    return std::string(http::obsolete_reason(static_cast<http::status>(status)));
}

template <class Stream>
awaitable<attempt_result>
read_error_reply(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    const int status = parser.get().result_int();
    std::string body;
    std::array<char, 4096> buf;
    while (!parser.is_done() && body.size() < max_error_body) {
        const auto room = std::min(buf.size(), max_error_body - body.size());
        parser.get().body().data = buf.data();
        parser.get().body().size = room;
        auto [ec, n] = co_await http::async_read_some(stream, conn.buffer(), parser, use_tuple);
        body.append(buf.data(), room - parser.get().body().size);
        if (ec && ec != http::error::need_buffer)
            break;
    }
    const bool retryable = retry_policy::retryable_status(status);
    auto r = failure(
        retryable ? verdict::retry : verdict::fail,
        errc::upstream_error,
        "upstream answered " + std::to_string(status) + ": " +
            error_text(body, parser.get().reason(), status),
        status,
        c
    );
    if (retryable)
        if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end())
            r.retry_after =
                retry_policy::parse_retry_after(it->value(), std::chrono::system_clock::now());
    r.reusable = parser.is_done() && parser.get().keep_alive();
    co_return r;
}

// Reads what is left of a finished body so the connection can carry the next request.
template <class Stream>
awaitable<bool> drain_body(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    conn.tcp().expires_after(std::min<milliseconds>(drain_limit, c.options.token_timeout));
    std::array<char, 1024> buf;
    std::size_t seen = 0;
    while (!parser.is_done() && seen < drain_bytes) {
        parser.get().body().data = buf.data();
        parser.get().body().size = buf.size();
        auto [ec, n] = co_await http::async_read_some(stream, conn.buffer(), parser, use_tuple);
        if (ec && ec != http::error::need_buffer)
            co_return false;
        seen += buf.size() - parser.get().body().size;
    }
    co_return parser.is_done();
}

/// What body reads go through: TLS needs its stream, while a plain connection reads its
/// socket directly, as tcp_stream adds a composed operation per read for the expiry that
/// read_watchdog has taken over.
template <class Stream> auto& body_layer(Stream& stream, connection& conn)
{
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
        return conn.tcp().socket();
    else
        return stream;
}

struct parse_step
{
    std::size_t body_bytes = 0;
    bool need_input = false;
    error_code ec;
};

/// Runs the buffered response bytes through the parser, which writes body bytes to
/// `body` until it is full, the input runs out or the message ends.
parse_step parse_buffered(response_parser& parser, beast::flat_buffer& in, std::span<char> body)
{
    parser.get().body().data = body.data();
    parser.get().body().size = body.size();
    parse_step step;
    for (;;) {
        if (parser.is_done())
            break;
        if (in.size() == 0) {
            step.need_input = true;
            break;
        }
        error_code ec;
        in.consume(parser.put(in.data(), ec));
        if (ec == http::error::need_more) {
            step.need_input = true;
            break;
        }
        if (ec == http::error::need_buffer)
            break;
        if (ec) {
            step.ec = ec;
            break;
        }
    }
    step.body_bytes = body.size() - parser.get().body().size;
    return step;
}

template <class Stream>
awaitable<attempt_result>
read_event_stream(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    const int status = parser.get().result_int();
    sse::parser events;
    sse::event ev;
    sse::openai_decoder decoder;
    sse::anthropic_decoder anthropic_decoder;
    const bool anthropic = c.options.format == api_format::anthropic;
    sse::openai_chunk chunk;
    // A chunk's deltas in the order they go out. A named array, not an initializer list:
    // the loop over it spans co_awaits, and GCC 12 mishandles temporaries that do.
    stream_redactor reasoning_redactor(c.options.api_key);
    stream_redactor content_redactor(c.options.api_key);
    const std::array deltas{
        text_delta{stream_event::kind::reasoning, &chunk.reasoning, &reasoning_redactor},
        text_delta{stream_event::kind::token, &chunk.content, &content_redactor}};
    std::string finish_reason;
    std::optional<token_usage> usage;
    std::array<char, 4096> buf;
    error_code read_error;
    // From here on the read deadline moves with every token: the watchdog holds it
    // instead of the stream's expiry, which would arm a timer for every read.
    conn.tcp().expires_never();
    read_watchdog watchdog(conn.tcp().socket(), c.read_deadline);

    for (;;) {
        for (;;) {
            const auto st = events.next(ev);
            if (st == sse::parse_status::need_more)
                break;
            if (st == sse::parse_status::error)
                co_return failure(
                    verdict::fail,
                    errc::upstream_error,
                    "unreadable upstream event stream: " + std::string(events.error_message()),
                    status,
                    c
                );
            const bool decoded = anthropic ? anthropic_decoder.decode(ev.type, ev.data, chunk)
                                           : decoder.decode(ev.data, chunk);
            if (!decoded)
                co_return failure(
                    verdict::fail,
                    errc::upstream_error,
                    "malformed upstream event: " +
                        std::string(anthropic ? anthropic_decoder.why() : decoder.why()),
                    status,
                    c
                );
            if (chunk.done) {
                co_await send_held_text(c, deltas);
                // Named, not a temporary in the co_await: GCC 12 mishandles class-type
                // temporaries (here a conditional's std::string) inside co_await operands.
                auto fin = stream_event::finished(
                    finish_reason.empty() ? std::string("stop") : finish_reason, usage
                );
                co_await send_event(c, std::move(fin));
                attempt_result r;
                r.kind = verdict::done;
                r.reusable =
                    co_await drain_body(stream, conn, parser, c) && parser.get().keep_alive();
                co_return r;
            }
            // PROTOCOL.md section 6: an `error` member is an upstream error even in a 200.
            if (chunk.is_error)
                co_return failure(
                    verdict::fail,
                    errc::upstream_error,
                    "upstream error: " + (chunk.error_message.empty()
                                              ? std::string("(no message)")
                                              : cut(chunk.error_message, max_error_text)),
                    status,
                    c
                );
            // Reasoning, then content, go out from here, through a coroutine only when the
            // channel is full: this runs for every token, and each nested coroutine is one
            // more frame. The events are named: GCC 12 mishandles class-type temporaries in
            // co_await operands.
            for (const auto& d : deltas) {
                if (d.text->empty())
                    continue;
                const auto visible = d.redactor->push(*d.text);
                if (visible.empty())
                    continue;
                auto ev = text_event(c, d.kind, visible);
                const auto state = co_await net::this_coro::cancellation_state;
                if (!hand_over(c, ev, state))
                    co_await send_event(c, std::move(ev));
                extend_read_deadline(c, watchdog);
            }
            if (!chunk.finish_reason.empty())
                finish_reason = chunk.finish_reason;
            if (chunk.usage)
                usage = chunk.usage;
        }

        if (parser.is_done() || read_error) {
            // Without [DONE], a finish_reason still says the model finished; without
            // either the reply is cut short, never a clean stop (PROTOCOL.md section 6).
            // Anthropic always ends with message_stop, so its absence is a cut.
            if (!finish_reason.empty() && !anthropic) {
                co_await send_held_text(c, deltas);
                auto fin = stream_event::finished(finish_reason, usage);
                co_await send_event(c, std::move(fin));
                attempt_result r;
                r.kind = verdict::done;
                r.reusable = !read_error && parser.get().keep_alive();
                co_return r;
            }
            if (!read_error) {
                auto r = failure(
                    verdict::fail,
                    errc::upstream_error,
                    "upstream stream ended before completion",
                    status,
                    c
                );
                r.reusable = parser.get().keep_alive();
                co_return r;
            }
            if (timed_out(read_error, c))
                co_return timeout_failure(c, status);
            co_return failure(
                c.token_sent ? verdict::fail : verdict::retry,
                errc::upstream_error,
                "upstream connection lost: " + describe(read_error),
                status,
                c
            );
        }

        // The body is parsed here rather than by http::async_read_some, which costs a
        // composed operation per call and a posted completion whenever it parses
        // without reading: a token chunk took several such calls.
        const auto step = parse_buffered(parser, conn.buffer(), buf);
        if (step.body_bytes > 0)
            events.feed(std::string_view(buf.data(), step.body_bytes));
        if (step.ec)
            read_error = step.ec;
        // Events just fed go out before the next read, which may wait for a long time.
        else if (step.need_input && step.body_bytes == 0) {
            auto& in = conn.buffer();
            const auto room = in.prepare(beast::read_size(in, 65536));
            error_code ec;
            std::size_t n = 0;
            if (watchdog.fired()) {
                // The deadline passed while no read was waiting for it to cut.
                ec = beast::error::timeout;
            } else {
                // A read after which the kernel holds nothing more makes the next one
                // wait for readiness instead of trying first (draining_read_buffer.hpp).
                const tls_transport::drain_scope draining(conn.transport());
                auto read =
                    with_op_memory(body_layer(stream, conn)
                                       .async_read_some(draining_read_buffer(room), deferred_tuple)
                    );
                auto [read_ec, read_n] = co_await std::move(read);
                ec = read_ec;
                n = read_n;
            }
            in.commit(n);
            // The end of the connection ends a body that runs to it and cuts any other.
            if (ec == net::error::eof) {
                ec = {};
                parser.put_eof(ec);
            }
            read_error = ec;
        }
    }
}

// A connection that failed before the status line: nothing reached the caller yet.
attempt_result
early_failure(const call_state& c, connection& conn, const error_code& ec, bool nothing_received)
{
    if (timed_out(ec, c))
        return timeout_failure(c, 0);
    if (conn.reused() && nothing_received) {
        attempt_result r;
        r.kind = verdict::stale;
        return r;
    }
    return failure(
        verdict::retry, errc::upstream_error, "upstream connection lost: " + describe(ec), 0, c
    );
}

template <class Stream>
awaitable<attempt_result> exchange(Stream& stream, connection& conn, call_state& c)
{
    c.read_deadline = c.first_token_deadline;
    conn.tcp().expires_at(c.read_deadline);
    auto [wec, wn] = co_await http::async_write(stream, c.request, use_tuple);
    if (wec)
        co_return early_failure(c, conn, wec, true);

    response_parser parser;
    // Streams are long; Beast's default 8 MB body limit would cut them (the SSE parser
    // bounds lines and events instead).
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(stream, conn.buffer(), parser, use_tuple);
    if (hec)
        co_return early_failure(c, conn, hec, !parser.got_some() && conn.buffer().size() == 0);

    if (parser.get().result_int() / 100 != 2)
        co_return co_await read_error_reply(stream, conn, parser, c);
    co_return co_await read_event_stream(stream, conn, parser, c);
}

attempt_result connect_failure(const call_state& c, const connect_result& cr)
{
    if (cr.ec == beast::error::timeout && clock::now() >= c.first_token_deadline)
        return timeout_failure(c, 0);
    std::string message;
    switch (cr.stage) {
    case connect_stage::resolve:
        message = "upstream unreachable: cannot resolve " + c.options.endpoint.host + ": " +
                  describe(cr.ec);
        break;
    case connect_stage::connect:
        message = "upstream unreachable: " + describe(cr.ec);
        break;
    case connect_stage::tls_handshake:
        message = "upstream TLS handshake failed: " + describe(cr.ec);
        break;
    }
    return failure(verdict::retry, errc::upstream_error, message, 0, c);
}

awaitable<attempt_result> attempt(connection_pool& pool, call_state& c, bool fresh_connection)
{
    std::unique_ptr<connection> conn = fresh_connection ? nullptr : pool.take_idle();
    if (!conn) {
        auto cr = co_await pool.connect(c.first_token_deadline);
        if (cr.ec)
            co_return connect_failure(c, cr);
        conn = std::move(cr.conn);
    }
    attempt_result r;
    if (auto* tls = conn->tls())
        r = co_await exchange(*tls, *conn, c);
    else
        r = co_await exchange(*conn->plain(), *conn, c);
    if (r.reusable && r.kind != verdict::stale) {
        conn->count_use();
        pool.release(std::move(conn));
    }
    // Anything else is closed here, never pooled.
    co_return r;
}

} // namespace

http_source::http_source(
    net::any_io_executor loop_executor,
    std::shared_ptr<ssl::context> tls,
    http_source_options options
)
    : options_(std::move(options)),
      pool_(
          std::move(loop_executor),
          options_.endpoint,
          tls,
          pool_options{
              options_.max_idle_connections, options_.idle_timeout, options_.connect_timeout}
      ),
      random_(std::random_device{}())
{
    if (options_.endpoint.tls && !tls)
        throw std::invalid_argument("an https upstream needs a TLS context");
}

awaitable<void> http_source::stream(chat_request request, event_channel& out)
{
    const auto& ep = options_.endpoint;
    const bool anthropic = options_.format == api_format::anthropic;
    http::request<http::string_body> req{
        http::verb::post, ep.base_path + (anthropic ? "/messages" : "/chat/completions"), 11};
    req.set(http::field::host, ep.host_header());
    req.set(http::field::user_agent, "tokenrelay");
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "text/event-stream");
    if (anthropic) {
        if (!options_.api_key.empty())
            req.set("x-api-key", options_.api_key);
        req.set("anthropic-version", "2023-06-01");
    } else if (!options_.api_key.empty())
        req.set(http::field::authorization, "Bearer " + options_.api_key);
    req.keep_alive(true);
    req.body() = anthropic ? build_anthropic_request_body(request) : build_request_body(request);
    req.prepare_payload();

    const auto start = clock::now();
    call_state c{req, out, options_, start + options_.first_token_timeout, {}};
    retry_policy policy(options_.retry_limits);
    net::steady_timer backoff(co_await net::this_coro::executor);
    bool fresh_connection = false;

    for (;;) {
        auto r = co_await attempt(pool_, c, fresh_connection);
        if (r.kind != verdict::stale)
            metrics::global().count_upstream_response(
                r.kind == verdict::done ? 200 : r.failure.end->http_status
            );
        if (r.kind == verdict::done)
            co_return;
        const auto state = co_await net::this_coro::cancellation_state;
        throw_if_cancelled(state);
        // A pooled connection the server had closed costs a reconnect, not a retry.
        fresh_connection = r.kind == verdict::stale;
        if (fresh_connection)
            continue;

        if (r.kind == verdict::retry && !c.token_sent) {
            const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
            const auto delay = policy.next_delay(unit, r.retry_after);
            // Waiting past the first-token deadline could only end in a timeout.
            if (delay && clock::now() + *delay < c.first_token_deadline) {
                log::info(
                    "upstream_retry",
                    {{"attempt", std::to_string(policy.retries_done())},
                     {"delay_ms", std::to_string(delay->count())},
                     {"reason", r.failure.end->message}}
                );
                metrics::global().upstream_retries.fetch_add(1, std::memory_order_relaxed);
                backoff.expires_after(*delay);
                co_await backoff.async_wait(net::use_awaitable);
                continue;
            }
        }
        co_await send_event(c, std::move(r.failure));
        co_return;
    }
}

} // namespace tokenrelay::upstream
