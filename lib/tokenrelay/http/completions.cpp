// POST /v1/chat/completions by phase (PROTOCOL.md section 1): the request's checks and
// admission (section 7, shared with the WebSocket door in admission.hpp), then the
// upstream request raced against the client going away and the drain, then the
// operator's generation_end line. The answers themselves: completion_answer.cpp (whole)
// and completion_stream.cpp (SSE).

#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/http/completion_exchange.hpp>
#include <tokenrelay/http/completions.hpp>
#include <tokenrelay/protocol/completion_request.hpp>
#include <tokenrelay/session/generation_log.hpp>
#include <tokenrelay/upstream/stream_guarded.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace tokenrelay::http_server {
namespace {

using namespace net::experimental::awaitable_operators;
using event = upstream::stream_event;
namespace json = boost::json;

// Section 5: the source never runs more than this many events ahead of the client.
constexpr std::size_t channel_capacity = 16;
// Requests a client pipelines behind a streaming answer wait in the read buffer; past
// this much the client is misbehaving and the exchange ends.
constexpr std::size_t max_pipelined_bytes = 64 * 1024;

awaitable<void> answer(exchange& x, upstream::event_channel& events)
{
    auto [ec, first] = co_await events.async_receive(use_tuple);
    if (ec)
        co_return;
    if (first.type == event::kind::failed && x.streaming) {
        account(x, first);
        // Before any byte: the upstream's status and an error body, as for stream: false.
        co_await answer_failure(x, first);
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

/// The upstream request and the answer, raced against the client going away and the
/// drain's deadline.
awaitable<void> run_exchange(exchange& x, chat_request request, runtime::loop_context& loop)
{
    // The source lives on this loop and the channel must share its executor (model_source).
    upstream::event_channel events(loop.executor, channel_capacity);
    // Named, not a temporary in the co_await: GCC 12 mishandles those (no session here).
    std::string no_session;
    auto outcome = co_await (
        (upstream::stream_guarded(loop.source, std::move(request), events, std::move(no_session)) &&
         answer(x, events)) ||
        watch_client(x) || loop.stop.wait()
    );
    x.slot.reset();
    if (outcome.index() != 0 && !x.completed) {
        // Section 2's reasons: a client that went away cancelled; the drain timeout ended
        // the rest. A write the race cut short leaves the connection unusable.
        x.reason = session::stopped_reason(
            outcome.index() == 1 ? session::stop_reason::cancelled : session::stop_reason::shutdown
        );
        x.stream.close();
    }
    // A generation that ended without the upstream's usage (failed, cancelled, shut down)
    // is counted as far as it got, as a WebSocket one is.
    x.accounting.settle_usage();
}

/// Answers an admitted request; returns whether the connection may serve another one.
awaitable<bool> answer_completion(
    beast::tcp_stream& stream,
    beast::flat_buffer& buffer,
    const http::request<http::string_body>& request,
    protocol::completion_request req,
    session::reply_admission admitted,
    runtime::relay_state& state,
    runtime::loop_context& loop
)
{
    const auto& settings = state.session_settings;
    exchange x(
        stream,
        buffer,
        state.config.idle_timeout,
        {session::estimate_prompt_tokens(req.request.messages), settings.prices}
    );
    x.slot = std::move(admitted.slot);
    x.version = request.version();
    x.keep_alive = request.keep_alive();
    x.meta = {"chatcmpl-" + make_session_id(), now_ms() / 1000, req.request.model};
    x.streaming = req.stream;
    x.include_usage = req.include_usage;
    x.forwarded = req.request.forward.has_value();
    x.log_content = settings.log_content;

    session::generation_record record;
    record.id = x.meta.id;
    record.model = req.request.model;
    if (x.log_content && !req.request.messages.empty())
        record.content = req.request.messages.back().content;
    co_await run_exchange(x, std::move(req.request), loop);

    record.reason = x.reason;
    x.accounting.fill(record);
    record.reply = std::move(x.reply);
    record.details = {
        {"stream", x.streaming ? "true" : "false"}, {"status", std::to_string(x.status)}};
    session::log_generation_end(record, settings.prices, x.log_content);
    co_return x.completed&& x.keep_alive&& stream.socket().is_open();
}

} // namespace

awaitable<bool> serve_completion(
    beast::tcp_stream& stream,
    beast::flat_buffer& buffer,
    const http::request<http::string_body>& request,
    runtime::relay_state& state,
    runtime::loop_context& loop
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
    // Section 7: the same client token and origins as the WebSocket door.
    const client_credentials who{
        request[http::field::authorization],
        {},
        request[http::field::origin],
        request[http::field::host]};
    if (auto refused = check_client(door::completions, who, cfg))
        co_return co_await write_refusal(stream, request, *refused, timeout);
    // Counted before the drain flag is read: the drain sets the flag before it counts, so
    // a request either sees the flag or is counted and waited for (drain_watch).
    const drain_watch::completion_guard counted(state.drain);
    if (auto refused = check_draining(door::completions, state))
        co_return co_await write_refusal(stream, request, *refused, timeout);

    // An OpenAI-compatible upstream gets the client's body; the others a translation.
    const auto how = cfg.upstream.empty() ? protocol::upstream_body::translate
                     : cfg.upstream_format == config::api_format::anthropic
                         ? protocol::upstream_body::anthropic
                         : protocol::upstream_body::forward;
    auto parsed =
        protocol::parse_completion_request(request.body(), state.frame_limits, cfg.model, how);
    if (auto* err = std::get_if<protocol::completion_error>(&parsed)) {
        co_return co_await write_error(
            stream,
            request,
            static_cast<http::status>(err->status),
            err->code,
            std::move(err->message),
            timeout,
            std::move(err->param)
        );
    }
    // An answer in progress holds an upstream request: it counts against the same
    // connection limits as a WebSocket, and its reply against the client's bounds and
    // the upstream requests as a chat does (sections 2 and 7).
    const auto ip = client_address(stream);
    connection_slot connection(state.connections);
    if (auto refused = connection.reserve(ip, cfg))
        co_return co_await write_refusal(stream, request, *refused, timeout);
    auto admitted = admit_reply(state, ip);
    if (auto* refused = std::get_if<refusal>(&admitted))
        co_return co_await write_refusal(stream, request, *refused, timeout);
    co_return co_await answer_completion(
        stream,
        buffer,
        request,
        std::move(std::get<protocol::completion_request>(parsed)),
        std::move(std::get<session::reply_admission>(admitted)),
        state,
        loop
    );
}

namespace {

/// OpenAI's list of models. When a model was made is the provider's to know: `created`
/// 0 says "not known".
std::string model_list(const std::vector<std::string>& ids)
{
    json::array models;
    for (const auto& id : ids) {
        json::object m;
        m["id"] = id;
        m["object"] = "model";
        m["created"] = 0;
        m["owned_by"] = "tokenrelay";
        models.push_back(std::move(m));
    }
    json::object list;
    list["object"] = "list";
    list["data"] = std::move(models);
    return json::serialize(list);
}

} // namespace

awaitable<bool> serve_models(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    const runtime::relay_state& state
)
{
    const auto& cfg = state.config;
    const client_credentials who{
        request[http::field::authorization],
        {},
        request[http::field::origin],
        request[http::field::host]};
    if (auto refused = check_client(door::completions, who, cfg))
        co_return co_await write_refusal(stream, request, *refused, cfg.idle_timeout);
    const bool sent = co_await write_json(
        stream,
        http::status::ok,
        model_list(state.frame_limits.allowed_models),
        request.version(),
        request.keep_alive(),
        cfg.idle_timeout,
        "5",
        request.method() == http::verb::head
    );
    co_return sent&& request.keep_alive();
}

} // namespace tokenrelay::http_server
