#pragma once
// Sans-I/O: the SSE body of one streamed mock reply in the Anthropic Messages API format
// (docs/mock_upstream.md, "Anthropic mode"), one event at a time like stream_writer, so the
// I/O layer frames, delays and writes the same `sse_piece`s.

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
        text_start,
        text,
        text_stop,
        message_delta,
        message_stop,
        over,
    };

    std::string event(std::string_view name, std::string_view data) const;
    std::string token_text(std::size_t i) const;
    std::string text_block_index() const;

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

/// The `{"type":"error","error":{"type":…,"message":…}}` body Anthropic answers errors with;
/// the error type follows the status as the API documents it (429 rate_limit_error, 529
/// overloaded_error, …).
std::string anthropic_error_body(unsigned status, std::string_view message);

} // namespace tokenrelay::mock
