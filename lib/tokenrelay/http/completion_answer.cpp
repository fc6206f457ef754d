// The whole-body answers of POST /v1/chat/completions (PROTOCOL.md section 1): a
// completion for `stream: false`, and the error bodies either mode sends before a byte of
// the answer is out.

#include <tokenrelay/http/completion_exchange.hpp>
#include <tokenrelay/http/responses.hpp>
#include <tokenrelay/metrics/metrics.hpp>

#include <boost/json/parse.hpp>

#include <string>

namespace tokenrelay::http_server {
namespace {

using event = upstream::stream_event;

// Before a byte is sent the upstream's own status reaches the client (a 429 stays a 429);
// a failure without one is a bad gateway, a silent upstream a gateway timeout.
http::status status_for(const upstream::stream_end& failure)
{
    if (failure.code == errc::timeout)
        return http::status::gateway_timeout;
    if (failure.http_status >= 400 && failure.http_status <= 599)
        return static_cast<http::status>(failure.http_status);
    return http::status::bad_gateway;
}

/// The text of a forwarded chunk or answer, for --log-content: choices[0]'s
/// `delta.content` or `message.content` when it is a string. Parsed only then: the
/// forwarded path otherwise reads no chunk twice.
std::string reply_text_of(std::string_view json_text)
{
    error_code ec;
    const auto jv = boost::json::parse(json_text, ec);
    const auto* o = ec ? nullptr : jv.if_object();
    const auto* choices = o ? o->if_contains("choices") : nullptr;
    const auto* list = choices ? choices->if_array() : nullptr;
    const auto* choice = list && !list->empty() ? list->front().if_object() : nullptr;
    for (const char* key : {"delta", "message"}) {
        const auto* part = choice ? choice->if_contains(key) : nullptr;
        const auto* po = part ? part->if_object() : nullptr;
        const auto* content = po ? po->if_contains("content") : nullptr;
        if (content && content->is_string())
            return std::string(content->get_string());
    }
    return {};
}

} // namespace

awaitable<bool> write_json(
    beast::tcp_stream& stream,
    http::status status,
    std::string body,
    unsigned version,
    bool keep_alive,
    std::chrono::milliseconds timeout,
    std::string_view retry_after,
    bool head
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
    std::string param,
    std::string_view retry_after
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

awaitable<bool> write_refusal(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    const refusal& refused,
    std::chrono::milliseconds timeout
)
{
    const auto retry_after = std::to_string(refused.retry_after_s);
    co_return co_await write_error(
        stream, request, refused.status, refused.code, refused.message, timeout, {}, retry_after
    );
}

void account(exchange& x, const event& ev)
{
    switch (ev.type) {
    case event::kind::token:
    case event::kind::reasoning:
    case event::kind::refusal:
        x.accounting.on_delta(ev.text.size());
        if (x.log_content && ev.type == event::kind::token)
            x.reply += ev.text;
        break;
    case event::kind::chunk:
    case event::kind::usage_chunk:
        if (!x.streaming)
            x.accounting.on_whole_reply(ev.delta_bytes);
        else if (ev.delta_bytes > 0)
            x.accounting.on_delta(ev.delta_bytes);
        if (x.log_content && ev.delta_bytes > 0)
            x.reply += reply_text_of(ev.text);
        break;
    case event::kind::finished:
        x.reason = x.accounting.on_finished(ev.end->finish_reason, ev.end->usage);
        // The upstream request is over: a client that reads the end of this answer finds
        // the slot free for its next request.
        x.slot.reset();
        break;
    case event::kind::failed:
        x.reason = x.accounting.on_failed(ev.end->code);
        x.slot.reset();
        break;
    }
}

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

awaitable<void> answer_failure(exchange& x, const event& failed)
{
    const auto status = status_for(*failed.end);
    x.status = static_cast<int>(status);
    // A forwarded request's client gets the upstream's own JSON error body (section 9).
    auto body =
        !failed.end->body.empty()
            ? failed.end->body
            : protocol::error_body(protocol::make_api_error(failed.end->code, failed.end->message));
    x.completed = co_await write_json(
        x.stream, status, std::move(body), x.version, x.keep_alive, x.write_timeout
    );
}

namespace {

/// The chat.completion body the relay builds from the events (a request it read, not
/// forwarded), with the usage and its extras.
std::string built_body(
    exchange& x,
    const std::string& content,
    const std::string& reasoning,
    const std::string& refusal,
    const upstream::stream_end& end
)
{
    const auto& usage = x.accounting.usage();
    std::optional<token_usage> tokens;
    if (usage)
        tokens = usage->usage.tokens;
    auto body =
        protocol::completion_body(x.meta, content, reasoning, refusal, end.finish_reason, tokens);
    // The usage object is the body's last member: `…}}`.
    if (usage)
        body.insert(body.size() - 2, usage_extras(*usage));
    return body;
}

} // namespace

awaitable<void> answer_whole(exchange& x, upstream::event_channel& events, event ev)
{
    std::string content;
    std::string reasoning;
    std::string refusal;
    std::string forwarded; // the upstream's own answer
    for (;;) {
        account(x, ev);
        switch (ev.type) {
        case event::kind::chunk:
        case event::kind::usage_chunk:
            forwarded = ev.text;
            break;
        case event::kind::token:
            content += ev.text;
            break;
        case event::kind::reasoning:
            reasoning += ev.text;
            break;
        case event::kind::refusal:
            refusal += ev.text;
            break;
        case event::kind::finished: {
            // A forwarded request's answer is the upstream's body; else the relay builds it.
            auto body = x.forwarded ? std::move(forwarded)
                                    : built_body(x, content, reasoning, refusal, *ev.end);
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
        case event::kind::failed:
            // Nothing was sent yet, so the partial text is dropped and the status tells.
            co_await answer_failure(x, ev);
            co_return;
        }
        auto [ec, next] = co_await events.async_receive(use_tuple);
        if (ec)
            co_return;
        ev = std::move(next);
    }
}

} // namespace tokenrelay::http_server
