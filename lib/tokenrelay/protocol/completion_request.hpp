#pragma once
// The body of `POST /v1/chat/completions` (PROTOCOL.md section 9, the OpenAI-compatible
// API): the relay's policy, checked against the same limits as a WebSocket `chat`
// (section 2), and the request the upstream gets: the body itself, edited only where
// the relay must, or its translation. Sans-I/O.

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

/// Answered with `status` and an OpenAI-style error body.
struct completion_error
{
    errc code = errc::bad_request; // bad_json, bad_request or too_large
    std::string message;           // names the parameter
    std::string param;             // the offending parameter's path, "" when none
    int status = 400;              // 400, or 413 for a body over its limits
};

using completion_parse_result = std::variant<completion_request, completion_error>;

/// What the upstream gets.
enum class upstream_body {
    forward,   // the client's body (request.forward): an OpenAI-compatible upstream
    anthropic, // request.forward holds its Anthropic Messages translation
    translate, // the fields of `request` alone, for the demo model: the rest is refused
};

/// The policy: a missing (or null) `model` means `default_model`, a given one must be in
/// `limits.allowed_models`; `max_tokens` / `max_completion_tokens` up to the ceiling;
/// `messages` up to `max_context_messages` + 1 turns with up to `max_context_bytes` +
/// `max_content_bytes` bytes of text in all (what one WebSocket chat may send); image
/// URLs up to `max_image_bytes`, and the rest of the body up to `max_body_bytes`; no
/// top-level member given twice (the upstream might read the other one). Everything
/// else is the upstream's to judge when forwarding; translating refuses what has no
/// equivalent, naming it.
completion_parse_result parse_completion_request(
    std::string_view body,
    const frame_limits& limits,
    std::string_view default_model,
    upstream_body how
);

} // namespace tokenrelay::protocol
