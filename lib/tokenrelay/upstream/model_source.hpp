#pragma once
// The seam between a generation and where its tokens come from (an OpenAI-compatible
// server over HTTP(S), or the built-in demo model).

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/error.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/upstream/token_text.hpp>

#include <memory>
#include <optional>
#include <string>

namespace tokenrelay::upstream {

/// How a stream ended: what `finished` and `failed` events carry.
struct stream_end
{
    std::string finish_reason;        // finished: "stop", "length", ...
    std::optional<token_usage> usage; // finished: when the upstream reported it
    errc code = errc::upstream_error; // failed
    std::string message;              // failed: human-readable, the key already redacted
    int http_status = 0;              // failed: the upstream's status, 0 when none
    std::string body; // failed, a forwarded request: the upstream's JSON error body, key redacted
};

struct stream_event
{
    enum class kind : std::uint8_t {
        token,     // text: delta.content
        reasoning, // text: delta.reasoning_content
        refusal,   // text: delta.refusal, the model declining to answer
        // A forwarded request (chat_request::forward) gets the upstream's own chunks
        // instead of the three above: text is an event's data (or a whole JSON answer),
        // key redacted, and delta_bytes the reply text it carries.
        chunk,
        usage_chunk, // a chunk with no choices that carries usage: sent only when asked
        finished,    // end: finish_reason and usage; the stream ended cleanly
        failed,      // end: code (upstream_error or timeout), message, http_status
    };
    kind type = kind::token;
    std::uint32_t delta_bytes = 0; // chunk: in padding, the event's size does not grow
    token_text text;
    // Set for finished and failed. Held apart so that a token event, moved about ten times
    // on its way through the channel, is its text and a pointer (moving three
    // strings was measured at 6% of the relay's instructions per token).
    std::unique_ptr<stream_end> end;

    static stream_event finished(std::string finish_reason, std::optional<token_usage> usage)
    {
        stream_event e;
        e.type = kind::finished;
        e.end = std::make_unique<stream_end>();
        e.end->finish_reason = std::move(finish_reason);
        e.end->usage = usage;
        return e;
    }
    static stream_event failed(errc code, std::string message, int http_status = 0)
    {
        stream_event e;
        e.type = kind::failed;
        e.end = std::make_unique<stream_end>();
        e.end->code = code;
        e.end->message = std::move(message);
        e.end->http_status = http_status;
        return e;
    }
};

/// Bounded: a producer that co_awaits every send is never more than the capacity ahead
/// of the consumer, so a slow consumer stops the upstream read (PROTOCOL.md section 5).
using event_channel = net::experimental::channel<void(error_code, stream_event)>;

class model_source
{
public:
    virtual ~model_source() = default;

    /// Streams one generation into `out`: token/reasoning events, then exactly one
    /// finished or failed event, unless the coroutine is cancelled first. Must run on the
    /// channel's executor. Cancellation (terminal) closes the upstream request at once.
    /// Empty or null deltas produce no event (PROTOCOL.md section 2).
    virtual awaitable<void> stream(chat_request request, event_channel& out) = 0;
};

} // namespace tokenrelay::upstream
