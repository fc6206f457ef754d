#pragma once
// The body of `POST /v1/chat/completions` (PROTOCOL.md section 1, the OpenAI-compatible
// pass-through): decoding and validation against the same limits as a WebSocket `chat`
// (section 2). Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/error.hpp>
#include <tokenrelay/protocol/client_frame.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace tokenrelay::protocol {

struct completion_request
{
    chat_request request;       // model resolved: the client's (allowed) or the default
    bool stream = false;        // `stream: true`: SSE, else one `chat.completion` body
    bool include_usage = false; // `stream_options.include_usage`: a final usage chunk
};

/// Answered as HTTP 400 with an OpenAI-style error body.
struct completion_error
{
    errc code = errc::bad_request; // bad_json or bad_request
    std::string message;           // names the parameter
    std::string param;             // the offending parameter, "" when none
};

using completion_parse_result = std::variant<completion_request, completion_error>;

/// A missing `model` means `default_model`; a given one must be in
/// `limits.allowed_models`. `messages` may hold up to `max_context_messages` + 1 turns with
/// up to `max_context_bytes` + `max_content_bytes` bytes of content in all: what one
/// WebSocket chat (context plus its new message) may send. Content is a string or an array
/// of `{"type":"text","text":…}` parts, which are joined. Parameters the relay does not
/// pass on (top_p, stop, ...) are ignored; `n` other than 1 and `tools` are refused, since
/// honouring them silently wrong would be worse.
completion_parse_result parse_completion_request(
    std::string_view body, const frame_limits& limits, std::string_view default_model
);

} // namespace tokenrelay::protocol
