#pragma once
// One answer to POST /v1/chat/completions in progress (PROTOCOL.md section 1), and the
// pieces its phases share: the JSON answers (a whole completion, an error, a refusal),
// the SSE writer of a streamed one, and the accounting both take part in. Internal to
// the completions door (completions.cpp runs the phases).

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/http/admission.hpp>
#include <tokenrelay/protocol/completion_chunks.hpp>
#include <tokenrelay/session/reply_accounting.hpp>
#include <tokenrelay/upstream/model_source.hpp>
#include <tokenrelay/upstream/request_slots.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace tokenrelay::http_server {

/// Shared by the coroutine that writes the answer and the one that watches for the
/// client going away.
struct exchange
{
    exchange(
        beast::tcp_stream& s,
        beast::flat_buffer& b,
        std::chrono::milliseconds timeout,
        session::reply_accounting figures
    )
        : stream(s), buffer(b), write_timeout(timeout), accounting(std::move(figures))
    {}

    beast::tcp_stream& stream;
    beast::flat_buffer& buffer;
    unsigned version = 11;
    bool keep_alive = true;
    std::chrono::milliseconds write_timeout;
    protocol::completion_meta meta;
    bool streaming = false;
    bool include_usage = false;
    bool forwarded = false; // the answer is the upstream's own chunks (PROTOCOL.md section 9)

    // As for a WebSocket generation (section 2, stream_end.usage).
    session::reply_accounting accounting;
    upstream::request_slot slot; // held while the upstream request runs
    bool log_content = false;
    std::string reply; // the content so far, kept only with log_content

    // Outcome, for the connection and the log.
    bool completed = false; // the whole answer was written
    std::string reason;     // section 2's stream_end reasons: stop, length, upstream_error, ...
    int status = 200;
};

/// A JSON answer: `Allow` with a 405, `WWW-Authenticate` with a 401, `Retry-After` with
/// a 503 or 429. Only the header in answer to HEAD. False when the write failed.
awaitable<bool> write_json(
    beast::tcp_stream& stream,
    http::status status,
    std::string body,
    unsigned version,
    bool keep_alive,
    std::chrono::milliseconds timeout,
    std::string_view retry_after = "5",
    bool head = false
);

/// An OpenAI-style error body with section 6's `code`, counted in /metrics like the
/// WebSocket door's error frames. Returns whether the connection may serve another
/// request.
awaitable<bool> write_error(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    http::status status,
    errc code,
    std::string message,
    std::chrono::milliseconds timeout,
    std::string param = {},
    std::string_view retry_after = "5"
);

/// An admission refusal (admission.hpp) as the completions door renders it: its status
/// and an error body.
awaitable<bool> write_refusal(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    const refusal& refused,
    std::chrono::milliseconds timeout
);

/// Feeds one upstream event to the exchange's accounting; the upstream request's slot is
/// given back once the upstream is done.
void account(exchange& x, const upstream::stream_event& ev);

/// stream_end.usage's additions (section 2) inside the OpenAI usage object: the cost at
/// --price-input/--price-output and whether the relay counted. OpenAI clients ignore
/// members they do not know.
std::string usage_extras(const session::counted_usage& u);

/// The upstream failed before a byte of the answer was sent: its status and an error body.
awaitable<void> answer_failure(exchange& x, const upstream::stream_event& failed);

/// `stream: false`: the events up to the end, then one JSON body.
awaitable<void>
answer_whole(exchange& x, upstream::event_channel& events, upstream::stream_event first);

/// `stream: true`: the events as SSE chunks, `first` included.
awaitable<void>
answer_streaming(exchange& x, upstream::event_channel& events, upstream::stream_event first);

} // namespace tokenrelay::http_server
