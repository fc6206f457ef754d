#pragma once
// Decodes one event of an Anthropic Messages API stream (`event:` name plus `data:` JSON)
// into the same chunk the OpenAI decoder fills, so the upstream client handles both
// formats alike. Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace tokenrelay::sse {

/// One decoder per response: it remembers message_start's input_tokens so the usage it
/// reports with message_delta and message_stop carries both counts.
///
/// Mapping onto openai_chunk: text_delta fills `content`, thinking_delta `reasoning`;
/// message_delta sets `finish_reason` (end_turn and stop_sequence: "stop", max_tokens:
/// "length", anything else as sent) and `usage`; message_stop sets `done` and `usage`; an
/// `error` event sets `is_error` and `error_message`. ping, content_block_start/stop,
/// signature and tool-input deltas and unknown event types fill nothing (Anthropic may add
/// event types; clients are told to ignore unknown ones).
class anthropic_decoder
{
public:
    /// `type` is the SSE event name; "message" (no `event:` line) falls back to the data's
    /// own `type` member. Fills `out` (cleared first); returns false, with why(), for data
    /// that is not a JSON object or has a wrongly typed member the relay needs.
    bool decode(std::string_view type, std::string_view data, openai_chunk& out);
    std::string_view why() const noexcept { return why_; }

private:
    bool decode_object(std::string_view type, boost::json::object const& o, openai_chunk& out);
    bool decode_delta(boost::json::object const& o, openai_chunk& out);
    bool read_usage(boost::json::value const* usage, std::string_view where);
    bool fail(std::string_view why);

    std::int64_t input_tokens_ = 0;
    std::int64_t output_tokens_ = 0;
    std::string why_;
};

} // namespace tokenrelay::sse
