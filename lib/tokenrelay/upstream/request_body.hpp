#pragma once
// The JSON body of an OpenAI-compatible streaming chat-completions request
// (PROTOCOL.md section 6). Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/protocol/anthropic_translation.hpp>

#include <cstdint>
#include <string>

namespace tokenrelay::upstream {

/// `{"model":…,"messages":[{"role":…,"content":…},…],"stream":true,
/// "stream_options":{"include_usage":true}}`, plus `temperature` and `max_tokens` when
/// the request sets them.
std::string build_request_body(const chat_request& request);

/// The Anthropic Messages API form: `{"model":…,"max_tokens":N,"stream":true,
/// "system":…,"messages":[…],"temperature":…}`. System turns leave `messages` for the
/// top-level `system` string (joined by a blank line; absent when there are none), as the
/// API has no system role; `max_tokens` is required there, so 4096 stands in when the
/// request has none.
std::string build_anthropic_request_body(const chat_request& request);

using protocol::anthropic_default_max_tokens;

} // namespace tokenrelay::upstream
