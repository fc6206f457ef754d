#pragma once
// The JSON body of an OpenAI-compatible streaming chat-completions request
// (PROTOCOL.md section 6). Sans-I/O.

#include <tokenrelay/core/chat.hpp>

#include <string>

namespace tokenrelay::upstream {

/// `{"model":…,"messages":[{"role":…,"content":…},…],"stream":true,
/// "stream_options":{"include_usage":true}}`, plus `temperature` and `max_tokens` when
/// the request sets them.
std::string build_request_body(const chat_request& request);

} // namespace tokenrelay::upstream
