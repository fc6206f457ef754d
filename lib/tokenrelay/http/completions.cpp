#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/http/completions.hpp>
#include <tokenrelay/http/responses.hpp>
#include <tokenrelay/http/upgrade_access.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/protocol/completion_chunks.hpp>
#include <tokenrelay/protocol/completion_request.hpp>
#include <tokenrelay/session/generation_log.hpp>
#include <tokenrelay/upstream/request_slots.hpp>
#include <tokenrelay/upstream/stream_guarded.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <unordered_set>

namespace tokenrelay::http_server {
namespace {

using namespace net::experimental::awaitable_operators;
using event = upstream::stream_event;

// Section 5: the source never runs more than this many events ahead of the client.
constexpr std::size_t channel_capacity = 16;
// Requests a client pipelines behind a streaming answer wait in the read buffer; past
// this much the client is misbehaving and the exchange ends.
constexpr std::size_t max_pipelined_bytes = 64 * 1024;

/// One request's answer in progress: shared by the coroutine that writes the answer and
/// the one that watches for the client going away.
struct exchange
{
    exchange(beast::tcp_stream& s, beast::flat_buffer& b) : stream(s), buffer(b) {}

    beast::tcp_stream& stream;
    beast::flat_buffer& buffer;
    unsigned version = 11;
    bool keep_alive = true;
    std::chrono::milliseconds write_timeout{};
    protocol::completion_meta meta;
    bool streaming = false;
    bool include_usage = false;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    // Accounting, as for a WebSocket generation (section 2, stream_end.usage).
    session::usage_prices prices;
    std::int64_t prompt_estimate = 1;
    upstream::request_slot slot; // held while the upstream request runs
    bool usage_counted = false;
    std::optional<session::counted_usage> usage;
    bool log_content = false;
    std::string reply; // the content so far, kept only with log_content

    // Outcome, for the connection and the log.
    bool completed = false; // the whole answer was written
    std::string reason;     // section 2's stream_end reasons: stop, length, upstream_error, ...
    int status = 200;
    std::int64_t ttft_ms = -1;
    std::chrono::steady_clock::time_point last_delta_at;
    std::int64_t deltas = 0; // token and reasoning events
};

/// Lets the drain end one completion at its deadline. Touched only on the completion's
/// own loop: stop_completions() posts there.
struct stopper
{
    explicit stopper(net::any_io_executor ex) : timer(std::move(ex)) {}

    net::steady_timer timer;
    bool stopped = false;
};

/// The completions in flight in this process. A completion has no session, so the
/// drain (section 2) cannot find it through the registry; it finds it here.
struct in_flight_set
{
    std::mutex mutex;
    std::unordered_set<std::shared_ptr<stopper>> running;
};

in_flight_set& in_flight()
{
    static in_flight_set set;
    return set;
}

/// One completion's membership of in_flight(), for as long as it is answered.
class in_flight_entry
{
public:
    explicit in_flight_entry(net::any_io_executor ex)
        : stopper_(std::make_shared<stopper>(std::move(ex)))
    {
        auto& set = in_flight();
        std::lock_guard lock(set.mutex);
        set.running.insert(stopper_);
    }
    in_flight_entry(const in_flight_entry&) = delete;
    in_flight_entry& operator=(const in_flight_entry&) = delete;
    ~in_flight_entry()
    {
        auto& set = in_flight();
        std::lock_guard lock(set.mutex);
        set.running.erase(stopper_);
    }

    stopper& get() const noexcept { return *stopper_; }

private:
    std::shared_ptr<stopper> stopper_;
};

/// Completes once stop_completions() has reached this completion.
awaitable<void> wait_for_stop(stopper& s)
{
    while (!s.stopped) {
        s.timer.expires_at(net::steady_timer::time_point::max());
        co_await s.timer.async_wait(use_tuple);
        auto cs = co_await net::this_coro::cancellation_state;
        if (is_cancelled(cs))
            co_return;
    }
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - since
    )
        .count();
}

std::string peer_ip(const beast::tcp_stream& stream)
{
    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string();
}

awaitable<bool> write_json(
    beast::tcp_stream& stream,
    http::status status,
    std::string body,
    unsigned version,
    bool keep_alive,
    std::chrono::milliseconds timeout,
    std::string_view retry_after = "5",
    bool head = false
)
{
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    if (status == http::status::method_not_allowed)
        res.set(http::field::allow, "POST");
    if (status == http::status::unauthorized)
        res.set(http::field::www_authenticate, "Bearer");
    if (status == http::status::service_unavailable || status == http::status::too_many_requests)
        res.set(http::field::retry_after, retry_after);
    stream.expires_after(timeout);
    co_return co_await write_response(stream, std::move(res), head);
}

awaitable<bool> write_error(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    http::status status,
    errc code,
    std::string message,
    std::chrono::milliseconds timeout,
    std::string param = {},
    std::string_view retry_after = "5"
)
{
    // Counted like the WebSocket door's error frames, so /metrics covers both doors.
    metrics::global().count_error(code);
    const bool sent = co_await write_json(
        stream,
        status,
        protocol::error_body(protocol::make_api_error(code, std::move(message), std::move(param))),
        request.version(),
        request.keep_alive(),
        timeout,
        retry_after,
        request.method() == http::verb::head
    );
    co_return sent&& request.keep_alive();
}

// Before a byte is sent the upstream's own status reaches the client (a 429 stays a 429);
// a failure without one is a bad gateway, a silent upstream a gateway timeout.
http::status status_for(const event& failed)
{
    const auto& failure = *failed.end;
    if (failure.code == errc::timeout)
        return http::status::gateway_timeout;
    if (failure.http_status >= 400 && failure.http_status <= 599)
        return static_cast<http::status>(failure.http_status);
    return http::status::bad_gateway;
}

/// The generation's usage, counted once: at its end, or when the upstream finished (the
/// usage then goes into the answer).
void count_usage(exchange& x, const std::optional<token_usage>& upstream_usage)
{
    if (std::exchange(x.usage_counted, true))
        return;
    x.usage =
        session::count_generation_usage(upstream_usage, x.prompt_estimate, x.deltas, x.prices);
}

/// stream_end.usage's additions (section 2) inside the OpenAI usage object: the cost at
/// --price-input/--price-output and whether the relay counted. OpenAI clients ignore
/// members they do not know.
std::string usage_extras(const session::counted_usage& u)
{
    std::string out;
    if (!u.cost.empty()) {
        out += R"(,"cost_usd":)";
        out += u.cost;
    }
    if (u.usage.estimated)
        out += R"(,"estimated":true)";
    return out;
}

/// The same accounting as a WebSocket generation (session/generation.cpp), so /metrics
/// covers both doors.
void account(exchange& x, const event& ev)
{
    auto& m = metrics::global();
    switch (ev.type) {
    case event::kind::token:
    case event::kind::reasoning: {
        const auto now = std::chrono::steady_clock::now();
        if (x.ttft_ms < 0) {
            x.ttft_ms = elapsed_ms(x.started);
            m.ttft.observe(static_cast<double>(x.ttft_ms));
        } else {
            m.inter_token.observe(
                std::chrono::duration<double, std::milli>(now - x.last_delta_at).count()
            );
        }
        x.last_delta_at = now;
        ++x.deltas;
        m.tokens_relayed.fetch_add(1, std::memory_order_relaxed);
        m.token_bytes_relayed.fetch_add(ev.text.size(), std::memory_order_relaxed);
        if (x.log_content && ev.type == event::kind::token)
            x.reply += ev.text;
        break;
    }
    case event::kind::finished:
        // Section 2 lists the reasons; finish reasons other than "length" (e.g.
        // "content_filter") are a normal stop, as for a WebSocket generation.
        x.reason = ev.end->finish_reason == "length" ? "length" : "stop";
        count_usage(x, ev.end->usage);
        // The upstream request is over: a client that reads the end of this answer finds
        // the slot free for its next request.
        x.slot.reset();
        break;
    case event::kind::failed:
        x.reason = ev.end->code == errc::timeout ? "timeout" : "upstream_error";
        m.count_error(ev.end->code);
        x.slot.reset();
        break;
    }
}

/// Appends one event as SSE; true when it was the last one.
bool append_event(exchange& x, std::string& out, const event& ev)
{
    account(x, ev);
    switch (ev.type) {
    case event::kind::token:
    case event::kind::reasoning:
        protocol::append_delta_chunk(out, x.meta, ev.text, ev.type == event::kind::reasoning);
        return false;
    case event::kind::finished:
        protocol::append_finish_chunk(out, x.meta, ev.end->finish_reason);
        // OpenAI's stream_options.include_usage: one last chunk with the usage, the
        // relay's estimate when the upstream gave none.
        if (x.include_usage && x.usage) {
            protocol::append_usage_chunk(out, x.meta, x.usage->usage.tokens);
            // The usage object is the chunk's last member: `…}}\n\n`.
            if (const auto extras = usage_extras(*x.usage); !extras.empty())
                out.insert(out.size() - 4, extras);
        }
        protocol::append_done_event(out);
        return true;
    case event::kind::failed:
        // Mid-stream the status line is gone: OpenAI's own way is an error event, and no
        // [DONE], so a client cannot take the cut-off text for a complete reply.
        protocol::append_error_event(out, protocol::make_api_error(ev.end->code, ev.end->message));
        return true;
    }
    return true;
}

/// One piece of the body: a chunk (RFC 9112 section 7.1) for HTTP/1.1, raw bytes for an
/// HTTP/1.0 client, whose body ends when the connection closes.
awaitable<bool> write_body(exchange& x, std::string_view data, bool last)
{
    std::string wire;
    if (x.version >= 11) {
        char size[20];
        const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        wire.reserve(data.size() + 16);
        if (!data.empty()) {
            wire.append(size, static_cast<std::size_t>(n));
            wire += data;
            wire += "\r\n";
        }
        if (last)
            wire += "0\r\n\r\n";
    } else {
        wire = data;
    }
    // A client that stops reading is cut off after the idle timeout (section 5); the read
    // side's deadline is untouched while the watcher's read is pending.
    x.stream.expires_after(x.write_timeout);
    auto [ec, n] = co_await net::async_write(x.stream, net::buffer(wire), use_tuple);
    if (ec) {
        // The watcher's read ends with the socket, so the source is cancelled at once.
        x.stream.close();
        co_return false;
    }
    co_return true;
}

awaitable<void> answer_streaming(exchange& x, upstream::event_channel& events, event first)
{
    http::response<http::empty_body> head{http::status::ok, x.version};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    // nginx would otherwise buffer the whole stream.
    head.set("X-Accel-Buffering", "no");
    if (x.version >= 11) {
        head.chunked(true);
    } else {
        x.keep_alive = false;
    }
    head.keep_alive(x.keep_alive);
    http::response_serializer<http::empty_body> sr{head};
    x.stream.expires_after(x.write_timeout);
    if (auto [ec, n] = co_await http::async_write_header(x.stream, sr, use_tuple); ec) {
        x.stream.close();
        co_return;
    }

    std::string batch;
    protocol::append_role_chunk(batch, x.meta);
    bool last = append_event(x, batch, first);
    for (;;) {
        // Section 5: events that queued up while the client was slow go out in one write.
        while (!last && events.try_receive([&](error_code ec, event ev) {
            if (!ec)
                last = append_event(x, batch, ev);
        })) {
        }
        if (!co_await write_body(x, batch, last))
            co_return;
        if (last)
            break;
        batch.clear();
        auto [ec, ev] = co_await events.async_receive(use_tuple);
        if (ec)
            co_return;
        last = append_event(x, batch, ev);
    }
    x.completed = true;
}

awaitable<void> answer_whole(exchange& x, upstream::event_channel& events, event ev)
{
    std::string content;
    std::string reasoning;
    for (;;) {
        account(x, ev);
        switch (ev.type) {
        case event::kind::token:
        case event::kind::reasoning:
            (ev.type == event::kind::token ? content : reasoning) += ev.text;
            break;
        case event::kind::finished: {
            std::optional<token_usage> tokens;
            if (x.usage)
                tokens = x.usage->usage.tokens;
            auto body = protocol::completion_body(
                x.meta, content, reasoning, ev.end->finish_reason, tokens
            );
            // The usage object is the body's last member: `…}}`.
            if (x.usage)
                body.insert(body.size() - 2, usage_extras(*x.usage));
            x.completed = co_await write_json(
                x.stream,
                http::status::ok,
                std::move(body),
                x.version,
                x.keep_alive,
                x.write_timeout
            );
            co_return;
        }
        case event::kind::failed: {
            // Nothing was sent yet, so the partial text is dropped and the status tells.
            const auto status = status_for(ev);
            x.status = static_cast<int>(status);
            x.completed = co_await write_json(
                x.stream,
                status,
                protocol::error_body(protocol::make_api_error(ev.end->code, ev.end->message)),
                x.version,
                x.keep_alive,
                x.write_timeout
            );
            co_return;
        }
        }
        auto [ec, next] = co_await events.async_receive(use_tuple);
        if (ec)
            co_return;
        ev = std::move(next);
    }
}

awaitable<void> answer(exchange& x, upstream::event_channel& events)
{
    auto [ec, first] = co_await events.async_receive(use_tuple);
    if (ec)
        co_return;
    if (first.type == event::kind::failed && x.streaming) {
        account(x, first);
        // Before any byte: the upstream's status and an error body, as for stream: false.
        const auto status = status_for(first);
        x.status = static_cast<int>(status);
        x.completed = co_await write_json(
            x.stream,
            status,
            protocol::error_body(protocol::make_api_error(first.end->code, first.end->message)),
            x.version,
            x.keep_alive,
            x.write_timeout
        );
        co_return;
    }
    if (x.streaming)
        co_await answer_streaming(x, events, std::move(first));
    else
        co_await answer_whole(x, events, std::move(first));
}

/// Completes when the client closes or resets the connection (PROTOCOL.md section 1: the
/// upstream request is then closed). Bytes it pipelines are kept for the next request.
awaitable<void> watch_client(exchange& x)
{
    while (x.buffer.size() < max_pipelined_bytes) {
        // The answer's writes carry their own deadline; this read waits as long as it takes.
        x.stream.expires_never();
        auto [ec, n] = co_await x.stream.async_read_some(x.buffer.prepare(4096), use_tuple);
        if (ec)
            co_return;
        x.buffer.commit(n);
    }
}

/// Releases a connection slot taken for the duration of one answer.
struct slot_guard
{
    ws::connection_set& set;
    std::string ip;
    ~slot_guard() { set.release(ip); }
};

} // namespace

awaitable<bool> serve_completion(
    beast::tcp_stream& stream,
    beast::flat_buffer& buffer,
    const http::request<http::string_body>& request,
    ws::relay_state& state,
    ws::loop_context& loop
)
{
    const auto& cfg = state.config;
    const auto timeout = cfg.idle_timeout;
    if (request.method() != http::verb::post) {
        co_return co_await write_error(
            stream,
            request,
            http::status::method_not_allowed,
            errc::bad_request,
            "use POST for /v1/chat/completions",
            timeout
        );
    }
    // The same client token as the WebSocket door (section 7); a browser page from a
    // foreign origin must not spend the relay's upstream key either.
    const auto verdict = check_upgrade(
        {request[http::field::authorization],
         {},
         request[http::field::origin],
         request[http::field::host]},
        cfg.client_token,
        cfg.allowed_origins
    );
    if (verdict == upgrade_verdict::unauthorized) {
        co_return co_await write_error(
            stream,
            request,
            http::status::unauthorized,
            errc::unauthorized,
            "a valid client token is required (Authorization: Bearer)",
            timeout
        );
    }
    if (verdict == upgrade_verdict::forbidden_origin) {
        co_return co_await write_error(
            stream,
            request,
            http::status::forbidden,
            errc::unauthorized,
            "origin not allowed",
            timeout
        );
    }
    // Joined before the drain flag is read: the drain sets the flag before it counts, so
    // a request either sees the flag or is counted and waited for (both under one mutex).
    in_flight_entry entry(co_await net::this_coro::executor);
    if (state.draining.load()) {
        co_return co_await write_error(
            stream,
            request,
            http::status::service_unavailable,
            errc::overloaded,
            "the relay is shutting down",
            timeout
        );
    }

    auto parsed = protocol::parse_completion_request(request.body(), state.frame_limits, cfg.model);
    if (auto* err = std::get_if<protocol::completion_error>(&parsed)) {
        co_return co_await write_error(
            stream,
            request,
            http::status::bad_request,
            err->code,
            std::move(err->message),
            timeout,
            std::move(err->param)
        );
    }
    auto& req = std::get<protocol::completion_request>(parsed);

    // An answer in progress holds an upstream request: it counts against the same
    // connection limits as a WebSocket (section 7).
    const auto ip = peer_ip(stream);
    const auto reserved =
        state.connections.try_reserve(ip, cfg.max_connections, cfg.max_connections_per_ip);
    if (reserved != ws::reserve_result::reserved) {
        const bool per_ip = reserved == ws::reserve_result::over_per_ip;
        co_return co_await write_error(
            stream,
            request,
            per_ip ? http::status::too_many_requests : http::status::service_unavailable,
            errc::overloaded,
            per_ip ? "too many connections from this address" : "overloaded",
            timeout
        );
    }
    slot_guard connection_slot{state.connections, ip};

    // Section 7: the client's rate and its bound on running replies, shared with its
    // WebSocket chats; past the bound its oldest reply in a detached session makes room.
    auto admitted = state.sessions.clients.admit_generation(ip, now_ms(), nullptr);
    if (!admitted.ticket) {
        const auto seconds = (admitted.retry_after_ms + 999) / 1000;
        co_return co_await write_error(
            stream,
            request,
            http::status::too_many_requests,
            admitted.refusal,
            std::move(admitted.message),
            timeout,
            {},
            std::to_string(std::max<std::int64_t>(1, seconds))
        );
    }
    if (admitted.to_cancel)
        std::static_pointer_cast<session::session>(admitted.to_cancel)
            ->stop(session::stop_reason::cancelled);

    exchange x(stream, buffer);
    // The same cap on upstream requests as a WebSocket chat (section 2, `overloaded`):
    // refused rather than queued, with the same one-second hint (Retry-After, RFC 9110
    // section 10.2.3) as its retry_after_ms.
    x.slot = upstream::request_slot(state.upstream_slots);
    if (!x.slot) {
        admitted.ticket.give_back();
        co_return co_await write_error(
            stream,
            request,
            http::status::service_unavailable,
            errc::overloaded,
            "the relay is at its limit of upstream requests; try again soon",
            timeout,
            {},
            "1"
        );
    }
    x.version = request.version();
    x.keep_alive = request.keep_alive();
    x.write_timeout = timeout;
    x.meta = {"chatcmpl-" + make_session_id(), now_ms() / 1000, req.request.model};
    x.streaming = req.stream;
    x.include_usage = req.include_usage;
    x.prices = state.session_settings.prices;
    x.prompt_estimate = session::estimate_prompt_tokens(req.request.messages);
    x.log_content = state.session_settings.log_content;
    std::string user_content;
    if (x.log_content && !req.request.messages.empty())
        user_content = req.request.messages.back().content;
    const auto model = req.request.model;
    metrics::global().generations_started.fetch_add(1, std::memory_order_relaxed);

    // The source lives on this loop and the channel must share its executor (model_source).
    upstream::event_channel events(loop.executor, channel_capacity);
    // Named, not a temporary in the co_await: GCC 12 mishandles those (no session here).
    std::string no_session;
    auto outcome = co_await (
        (upstream::stream_guarded(
             loop.source, std::move(req.request), events, std::move(no_session)
         ) &&
         answer(x, events)) ||
        watch_client(x) || wait_for_stop(entry.get())
    );
    x.slot.reset();
    if (outcome.index() != 0 && !x.completed) {
        // Section 2's reasons: a client that went away cancelled; the drain timeout ended
        // the rest. A write the race cut short leaves the connection unusable.
        x.reason = outcome.index() == 1 ? "cancelled" : "shutdown";
        x.stream.close();
    }
    // A generation that ended without the upstream's usage (failed, cancelled, shut down)
    // is counted as far as it got, as a WebSocket one is.
    count_usage(x, std::nullopt);

    session::generation_record record;
    record.id = x.meta.id;
    record.model = model;
    record.reason = x.reason;
    if (x.usage)
        record.usage = x.usage->usage;
    record.ttft_ms = x.ttft_ms;
    record.total_ms = elapsed_ms(x.started);
    record.content = std::move(user_content);
    record.reply = std::move(x.reply);
    record.details = {
        {"stream", x.streaming ? "true" : "false"}, {"status", std::to_string(x.status)}};
    session::log_generation_end(record, x.prices, x.log_content);
    co_return x.completed&& x.keep_alive&& stream.socket().is_open();
}

std::size_t completions_in_flight()
{
    auto& set = in_flight();
    std::lock_guard lock(set.mutex);
    return set.running.size();
}

void stop_completions()
{
    auto& set = in_flight();
    std::lock_guard lock(set.mutex);
    for (const auto& s : set.running) {
        auto ex = s->timer.get_executor();
        net::post(ex, [s] {
            s->stopped = true;
            s->timer.cancel();
        });
    }
}

} // namespace tokenrelay::http_server
