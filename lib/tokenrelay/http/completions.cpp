#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/http/completions.hpp>
#include <tokenrelay/http/upgrade_access.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/protocol/completion_chunks.hpp>
#include <tokenrelay/protocol/completion_request.hpp>

#include <chrono>
#include <cstdio>
#include <exception>

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

    // Outcome, for the connection and the log.
    bool completed = false; // the whole answer was written
    std::string reason;     // stop, length, upstream_error, timeout, client_gone
    int status = 200;
    std::int64_t ttft_ms = -1;
    std::chrono::steady_clock::time_point last_delta_at;
    std::size_t deltas = 0;
};

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
    std::chrono::milliseconds timeout
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
    if (status == http::status::service_unavailable)
        res.set(http::field::retry_after, "5");
    stream.expires_after(timeout);
    auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
    co_return !ec;
}

awaitable<bool> write_error(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    http::status status,
    errc code,
    std::string message,
    std::chrono::milliseconds timeout,
    std::string param = {}
)
{
    const bool sent = co_await write_json(
        stream,
        status,
        protocol::error_body(protocol::make_api_error(code, std::move(message), std::move(param))),
        request.version(),
        request.keep_alive(),
        timeout
    );
    co_return sent&& request.keep_alive();
}

// Before a byte is sent the upstream's own status reaches the client (a 429 stays a 429);
// a failure without one is a bad gateway, a silent upstream a gateway timeout.
http::status status_for(const event& failure)
{
    if (failure.code == errc::timeout)
        return http::status::gateway_timeout;
    if (failure.http_status >= 400 && failure.http_status <= 599)
        return static_cast<http::status>(failure.http_status);
    return http::status::bad_gateway;
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
        break;
    }
    case event::kind::finished:
        if (ev.usage) {
            m.prompt_tokens.fetch_add(
                static_cast<std::uint64_t>(ev.usage->prompt_tokens), std::memory_order_relaxed
            );
            m.completion_tokens.fetch_add(
                static_cast<std::uint64_t>(ev.usage->completion_tokens), std::memory_order_relaxed
            );
        }
        break;
    case event::kind::failed:
        m.count_error(ev.code);
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
        protocol::append_finish_chunk(out, x.meta, ev.finish_reason);
        if (x.include_usage && ev.usage)
            protocol::append_usage_chunk(out, x.meta, *ev.usage);
        protocol::append_done_event(out);
        x.reason = ev.finish_reason.empty() ? "stop" : ev.finish_reason;
        return true;
    case event::kind::failed:
        // Mid-stream the status line is gone: OpenAI's own way is an error event, and no
        // [DONE], so a client cannot take the cut-off text for a complete reply.
        protocol::append_error_event(out, protocol::make_api_error(ev.code, ev.message));
        x.reason = std::string(code_name(ev.code));
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
            x.reason = ev.finish_reason.empty() ? "stop" : ev.finish_reason;
            auto body =
                protocol::completion_body(x.meta, content, reasoning, ev.finish_reason, ev.usage);
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
            x.reason = std::string(code_name(ev.code));
            x.completed = co_await write_json(
                x.stream,
                status,
                protocol::error_body(protocol::make_api_error(ev.code, ev.message)),
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
        x.reason = std::string(code_name(first.code));
        x.completed = co_await write_json(
            x.stream,
            status,
            protocol::error_body(protocol::make_api_error(first.code, first.message)),
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

// A source that throws (rather than reporting `failed`) still ends the answer with an
// error; cancellation is the only exception that passes through.
awaitable<void>
run_source(upstream::model_source& source, chat_request request, upstream::event_channel& out)
{
    std::string failure;
    try {
        co_await source.stream(std::move(request), out);
        co_return;
    } catch (const std::exception& e) {
        failure = e.what();
    }
    auto cs = co_await net::this_coro::cancellation_state;
    if (cs.cancelled() != net::cancellation_type::none)
        throw boost::system::system_error(net::error::operation_aborted);
    log::error("upstream_exception", {{"what", failure}});
    event ev;
    ev.type = event::kind::failed;
    ev.code = errc::upstream_error;
    ev.message = "upstream request failed";
    co_await out.async_send(error_code{}, std::move(ev), use_tuple);
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
    slot_guard slot{state.connections, ip};

    exchange x(stream, buffer);
    x.version = request.version();
    x.keep_alive = request.keep_alive();
    x.write_timeout = timeout;
    x.meta = {"chatcmpl-" + make_session_id(), now_ms() / 1000, req.request.model};
    x.streaming = req.stream;
    x.include_usage = req.include_usage;
    const auto model = req.request.model;
    metrics::global().generations_started.fetch_add(1, std::memory_order_relaxed);

    // The source lives on this loop and the channel must share its executor (model_source).
    upstream::event_channel events(loop.executor, channel_capacity);
    auto outcome = co_await (
        (run_source(loop.source, std::move(req.request), events) && answer(x, events)) ||
        watch_client(x)
    );
    if (outcome.index() == 1 && !x.completed)
        x.reason = "client_gone";

    log::info(
        "completion_end",
        {{"id", x.meta.id},
         {"model", model},
         {"stream", x.streaming ? "true" : "false"},
         {"status", std::to_string(x.status)},
         {"reason", x.reason},
         {"deltas", std::to_string(x.deltas)},
         {"ttft_ms", std::to_string(x.ttft_ms)},
         {"total_ms", std::to_string(elapsed_ms(x.started))}}
    );
    co_return x.completed&& x.keep_alive&& stream.socket().is_open();
}

} // namespace tokenrelay::http_server
