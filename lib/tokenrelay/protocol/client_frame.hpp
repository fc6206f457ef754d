#pragma once
// Client-to-relay frames of PROTOCOL.md section 2: decoding and validation. Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tokenrelay::protocol {

struct chat_options
{
    std::optional<std::string> model;
    std::optional<double> temperature;
    std::optional<std::int64_t> max_tokens;
};

struct chat_frame
{
    std::string content; // the text
    std::string parts;   // with images: chat_turn::parts; empty for text alone
    std::optional<std::vector<chat_turn>> context; // absent: use the session's history
    std::string id;                                // "" when the client gave none
    chat_options options;
};

struct cancel_frame
{
    std::string id;
};

struct ping_frame
{
    /// The client's `timestamp` exactly as it was written (a JSON number), so the pong
    /// echoes it without float round-trips; empty when absent.
    std::string timestamp;
};

struct resume_frame
{
    std::string session;
    std::uint64_t last_seq = 0;
};

/// Asks for the session's stored conversation (PROTOCOL.md section 4).
struct history_frame
{};

using client_frame =
    std::variant<chat_frame, cancel_frame, ping_frame, resume_frame, history_frame>;

struct frame_limits
{
    std::size_t max_content_bytes = 65536;
    std::size_t max_context_messages = 200;
    std::size_t max_context_bytes = 1 << 20;
    std::int64_t max_tokens_ceiling = 32768;
    std::size_t max_frame_bytes = 65536;     // a WebSocket message, a chat's images aside
    std::size_t max_image_bytes = 8u << 20;  // image URLs on top of the other limits
    std::size_t max_body_bytes = 1u << 20;   // an HTTP body, its image URLs aside
    std::vector<std::string> allowed_models; // a chat's options.model must be one of these
};

struct decode_error
{
    errc code;           // bad_json, bad_request or unknown_type
    std::string message; // human-readable, names the field
    std::string id;      // the frame's `id` when one could be read
    // The frame is over the message limit once its images are set aside (PROTOCOL.md
    // section 9): not an error frame but the close code 1009.
    bool too_big = false;
};

/// Either a frame or the error to answer with.
using decode_result = std::variant<client_frame, decode_error>;

decode_result decode_client_frame(std::string_view text, const frame_limits& limits);

/// The text of content parts as chat_frame::parts holds them: the text parts joined.
std::string text_of_parts(std::string_view parts_json);

} // namespace tokenrelay::protocol
