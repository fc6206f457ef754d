#pragma once
// Relay-to-client frames of PROTOCOL.md section 2, serialised straight into a string
// (no JSON DOM: this is the per-token path). Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/error.hpp>
#include <tokenrelay/core/json_text.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tokenrelay::protocol {

using ::tokenrelay::append_json_string;

void append_session_frame(
    std::string& out,
    std::string_view session_id,
    bool resumed,
    std::uint64_t last_seq,
    std::uint64_t first_seq,
    std::size_t connections
);

/// `type` is "token", "reasoning" or "user": the three share their fields.
void append_token_frame(
    std::string& out,
    std::string_view type,
    std::string_view content,
    std::int64_t timestamp_ms,
    std::uint64_t seq,
    std::string_view id
);

/// A `user` frame whose content is content parts (a chat with images): `parts_json` is
/// the compact JSON array, written as it is.
void append_user_parts_frame(
    std::string& out,
    std::string_view parts_json,
    std::int64_t timestamp_ms,
    std::uint64_t seq,
    std::string_view id
);

struct stream_end_fields
{
    std::string id;
    std::uint64_t seq = 0;
    std::string reason; // stop, length, cancelled, upstream_error, timeout, shutdown
    std::optional<token_usage> usage;
    std::int64_t ttft_ms = -1; // -1: no token arrived; serialised as null
    std::int64_t total_ms = 0;
    // Inside `usage`, only when it is present. The cost is a JSON number already formatted
    // (session::format_cost_usd); empty when no prices are configured.
    std::string cost_usd;
    bool usage_estimated = false; // the relay counted: the upstream sent no usage
};

void append_stream_end_frame(std::string& out, const stream_end_fields& f);

/// One message of the `history` frame: views into the session's stored conversation.
struct history_message
{
    std::string_view role;
    std::string_view content;
    std::string_view id;
    std::string_view parts = {}; // set: the content as parts (chat_turn::parts)
};

/// The `history` frame (PROTOCOL.md section 4); `through_seq` is the seq of the last
/// completed turn's stream_end.
void append_history_frame(
    std::string& out, std::span<const history_message> messages, std::uint64_t through_seq
);

/// `client_timestamp` is the raw JSON number from the ping; empty means absent.
void append_pong_frame(std::string& out, std::int64_t now_ms, std::string_view client_timestamp);

void append_error_frame(
    std::string& out,
    errc code,
    std::string_view message,
    std::string_view id = {},
    std::optional<std::int64_t> retry_after_ms = std::nullopt
);

} // namespace tokenrelay::protocol
