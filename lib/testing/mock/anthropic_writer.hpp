#pragma once
// Sans-I/O: the SSE body of one streamed mock reply in the Anthropic Messages API format
// (docs/mock_upstream.md, "Anthropic mode"), one event at a time like stream_writer, so the
// I/O layer frames, delays and writes the same `sse_piece`s; the whole JSON answer to a
// request that did not ask for a stream; and the reading of a Messages API request.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <testing/mock/directives.hpp>
#include <testing/mock/stream_writer.hpp>

namespace tokenrelay::mock {

class anthropic_writer
{
public:
    /// `id` becomes "msg_mock-<id>".
    anthropic_writer(plan p, chat_input in, std::uint64_t id);

    /// The next event, or nullopt when the body is over (then see `end()`).
    std::optional<sse_piece> next();

    stream_end end() const noexcept { return end_; }

private:
    enum class phase {
        start,
        ping,
        thinking_start,
        thinking,
        thinking_stop,
        text_start, // or the tool_use block's start, with `mock:tool_call`
        text,       // or the tool_use block's input_json_delta pieces
        text_stop,
        message_delta,
        message_stop,
        over,
    };

    std::string event(std::string_view name, std::string_view data) const;
    std::string token_text(std::size_t i) const;
    std::string text_block_index() const;
    std::string stop_reason() const;

    plan plan_;
    chat_input in_;
    std::uint64_t id_;
    std::string_view line_end_;
    phase phase_ = phase::start;
    std::size_t total_ = 0;
    std::size_t reasoning_sent_ = 0;
    std::size_t sent_ = 0;
    bool extra_sent_ = false;
    stream_end end_ = stream_end::complete;
};

/// Reads a parsed Messages API body as parse_chat_input does, then in Anthropic's terms:
/// `tool_name` is `tools[0].name` ("mock_tool" when there is none); when the last message
/// is a `user` one whose content array holds `tool_result` blocks, it is a tool result
/// (`last_role` "tool") whose text, `last_content`, is the last such block's `content` (a
/// string, or the joined texts of its text blocks). Tool result texts count in
/// `prompt_chars`.
std::optional<chat_input> parse_messages_input(const boost::json::value& body);

/// The id of request `id`'s tool_use block: `toolu_mock_<id>`.
std::string tool_use_id(std::uint64_t id);

/// The Messages API `message` body for a request that did not ask for a stream:
/// `{"id":"msg_mock-<id>","type":"message","role":"assistant","model":…,"content":[…],
/// "stop_reason":…,"stop_sequence":null,"usage":{"input_tokens":P,"output_tokens":N}}`,
/// its content a thinking block (with `mock:reasoning`), then the text block with the
/// whole text, or the tool_use block with its whole input. Stream-only directives do not
/// apply; its delay is whole_answer_delay's.
std::string anthropic_whole_answer(const plan& p, const chat_input& in, std::uint64_t id);

/// The `{"type":"error","error":{"type":…,"message":…}}` body Anthropic answers errors with;
/// the error type follows the status as the API documents it (429 rate_limit_error, 529
/// overloaded_error, …).
std::string anthropic_error_body(unsigned status, std::string_view message);

} // namespace tokenrelay::mock
