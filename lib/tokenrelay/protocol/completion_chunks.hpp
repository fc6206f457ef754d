#pragma once
// What `POST /v1/chat/completions` answers (PROTOCOL.md section 1): the OpenAI
// `chat.completion.chunk` server-sent events, the `chat.completion` body and the
// `{"error":{…}}` body, serialised straight into strings (the per-token path). Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::protocol {

/// The envelope every chunk of one completion repeats.
struct completion_meta
{
    std::string id;           // "chatcmpl-…"
    std::int64_t created = 0; // Unix seconds
    std::string model;
};

/// An OpenAI-style error. `type` follows OpenAI's names (invalid_request_error, ...);
/// `code` is the PROTOCOL.md section 2 code name, so both doors report the same codes.
struct api_error
{
    std::string message;
    std::string type;
    std::string code;
    std::string param; // "" is written as null
};

/// The OpenAI error type for one of our codes.
api_error make_api_error(errc code, std::string message, std::string param = {});

/// `{"error":{"message":…,"type":…,"param":…,"code":…}}`.
std::string error_body(const api_error& e);

// Each appends one complete event, `data: <json>\n\n`.

/// The first chunk: `delta: {"role":"assistant","content":""}`.
void append_role_chunk(std::string& out, const completion_meta& meta);
/// Which member of `delta` a chunk's text goes in: `reasoning_content` is DeepSeek's name.
enum class delta_field { content, reasoning_content, refusal };

/// `delta.<field>` with `text`.
void append_delta_chunk(
    std::string& out, const completion_meta& meta, std::string_view text, delta_field field
);
/// `delta: {}` with `finish_reason` ("stop" when the upstream gave none).
void append_finish_chunk(std::string& out, const completion_meta& meta, std::string_view reason);
/// `choices: []` with `usage` (for `stream_options.include_usage`).
void append_usage_chunk(std::string& out, const completion_meta& meta, const token_usage& usage);
/// `data: {"error":{…}}`: a failure after the stream began, as OpenAI itself sends it.
void append_error_event(std::string& out, const api_error& e);
/// `data: [DONE]`, the last event of a stream that completed.
void append_done_event(std::string& out);

/// The `chat.completion` body of a non-streaming request; `reasoning_content` and
/// `refusal` only when the model produced some, `usage` only when the upstream reported it.
std::string completion_body(
    const completion_meta& meta,
    std::string_view content,
    std::string_view reasoning,
    std::string_view refusal,
    std::string_view finish_reason,
    const std::optional<token_usage>& usage
);

} // namespace tokenrelay::protocol
