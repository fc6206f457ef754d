#pragma once
// Sans-I/O: the SSE body of one streamed mock reply, produced one event at a time so a
// `mock:huge` reply never sits in memory whole. The I/O layer only frames, delays and
// writes what `next()` returns.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <testing/mock/directives.hpp>

namespace tokenrelay::mock {

/// One SSE event (complete with its blank line), to be sent after `delay`.
struct sse_piece
{
    std::chrono::milliseconds delay{0};
    std::string bytes;
    /// `mock:stamp`: where in `bytes` the send-time slot (`stamp_digits` zeros) starts. The
    /// I/O layer fills it with `fill_stamp` after the delay, just before it writes.
    std::optional<std::size_t> stamp_at{};

    bool operator==(const sse_piece&) const = default;
};

/// How the response ends once `next()` has nothing more.
enum class stream_end {
    complete,   // terminating zero-size chunk, the connection stays usable
    stall,      // nothing more; hold the connection until the client closes it
    disconnect, // close the TCP connection with no terminating chunk
};

class stream_writer
{
public:
    /// `id` becomes "mock-<id>"; `created` is the Unix time in seconds.
    stream_writer(plan p, chat_input in, std::uint64_t id, std::int64_t created);

    /// The next event, or nullopt when the body is over (then see `end()`).
    std::optional<sse_piece> next();

    stream_end end() const noexcept { return end_; }

    /// Content tokens (or `mock:tool_call` argument pieces) produced so far (the usage
    /// chunk's `completion_tokens`).
    std::size_t content_tokens() const noexcept { return sent_; }

private:
    enum class phase { role, reasoning, content, finish, usage, done, over };

    std::string event(std::string_view data) const;
    std::string chunk(std::string_view choices_json) const;
    std::string token_text(std::size_t i) const;
    sse_piece content_piece(std::string_view text, std::chrono::milliseconds delay) const;
    sse_piece tool_call_piece(std::size_t i, std::chrono::milliseconds delay) const;

    plan plan_;
    chat_input in_;
    std::string envelope_; // `{"id":...,"model":...,` shared by every chunk
    // A content-token event is `content_head_ + <JSON string body> + content_tail_`,
    // serialised once, so a fast stream costs little more than the copy (not with logprobs).
    std::string content_head_;
    std::string content_tail_;
    std::string_view line_end_;
    phase phase_ = phase::role;
    std::size_t total_ = 0; // content tokens this reply will carry
    std::size_t reasoning_sent_ = 0;
    std::size_t sent_ = 0;
    int empty_pending_ = 0; // `mock:empty_deltas` chunks still owed after the last token
    bool extra_sent_ = false;
    bool tool_head_sent_ = false; // `mock:tool_call`: the delta naming the function
    std::uint64_t id_;
    stream_end end_ = stream_end::complete;
};

/// Width of a `mock:stamp` slot: Unix microseconds have 16 digits until the year 2286, so
/// the slot can be reserved before the time is known.
inline constexpr std::size_t stamp_digits = 16;

/// Writes `unix_micros` zero-padded into `p`'s stamp slot; nothing when it has none.
void fill_stamp(sse_piece& p, std::int64_t unix_micros) noexcept;

/// Appends `data` framed as one HTTP/1.1 chunk (RFC 9112 section 7.1): hex size, CRLF,
/// data, CRLF. Empty data is not framed: a zero-size chunk would end the body.
void append_http_chunk(std::string& out, std::string_view data);

/// The chunk that ends a chunked body (no trailers).
inline constexpr std::string_view last_http_chunk = "0\r\n\r\n";

// `mock:huge` splits its bytes into tokens of this many 'x' characters.
inline constexpr std::size_t huge_token_size = 64;

/// How many content tokens `p` asks for, in either wire format: the echo is one token,
/// `mock:huge` its bytes in huge_token_size pieces, `mock:echo_key` its text in pieces of
/// the size given, else `mock:tokens`. A K of stall_after / disconnect_after ("K tokens,
/// then ...") wins over that count, but cannot invent content that does not exist.
std::size_t planned_token_count(const plan& p, const chat_input& in);

/// Content token `i` without a `mock:stamp`: the echo, a piece of `mock:huge` or of
/// `mock:echo_key`'s text, `tool result: <text>` when the last message is a tool result,
/// or `w<i> `.
std::string plain_token_text(const plan& p, const chat_input& in, std::size_t i);

/// True when the content tokens are the plain `w<i> ` ones (those `mock:stamp` stamps): no
/// echo, `mock:huge`, `mock:echo_key` or tool result replaces them.
bool plain_w_tokens(const plan& p, const chat_input& in) noexcept;

/// `mock:tool_call`'s arguments, `{"city":"Paris"}`, in the pieces the stream sends; each
/// piece counts as one completion token.
inline constexpr std::array<std::string_view, 3> tool_call_arguments = {
    R"({"city")", R"(:"Par)", R"(is"})"};

/// How many argument pieces a `mock:tool_call` stream sends: all three, unless
/// stall_after / disconnect_after cut it shorter.
std::size_t planned_tool_call_pieces(const plan& p);

/// The id of request `id`'s tool call: `call_mock_<id>`.
std::string tool_call_id(std::uint64_t id);

/// The finish_reason: `mock:finish`'s, else "tool_calls" for `mock:tool_call`, else "stop".
std::string_view finish_reason(const plan& p) noexcept;

/// One entry of a choice's `logprobs.content` for `token`:
/// `{"token":<token>,"logprob":-0.25,"bytes":null,"top_logprobs":[]}`.
std::string logprob_entry(std::string_view token);

/// `s` as a quoted JSON string.
std::string json_string(std::string_view s);

/// The characters `le` stands for.
std::string_view line_end_text(line_end le) noexcept;

} // namespace tokenrelay::mock
