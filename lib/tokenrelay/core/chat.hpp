#pragma once
// Plain data shared by the protocol, session and upstream modules.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tokenrelay {

/// One turn of a conversation; role is "system", "user" or "assistant".
struct chat_turn
{
    chat_turn() = default;
    chat_turn(std::string role_, std::string content_, std::string parts_ = {})
        : role(std::move(role_)), content(std::move(content_)), parts(std::move(parts_))
    {}

    std::string role;
    std::string content; // the text
    // A user turn with images: its content as OpenAI content parts, a compact JSON array
    // (text and image_url parts); empty for text alone. What the upstream is sent.
    std::string parts;

    bool operator==(const chat_turn&) const = default;
};

/// Token counts as reported by the upstream's usage chunk.
struct token_usage
{
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;

    bool operator==(const token_usage&) const = default;
};

/// A request of the OpenAI-compatible HTTP API, forwarded (PROTOCOL.md section 9).
struct forwarded_request
{
    std::string body;   // the client's JSON body with the relay's edits, sent as is
    bool stream = true; // false: the upstream answers with one JSON body
};

/// What one generation asks of a model.
struct chat_request
{
    std::vector<chat_turn> messages; // the text of each turn
    std::string model;
    std::optional<double> temperature;
    std::optional<std::int64_t> max_tokens;
    // Set: the upstream gets this body instead of one built from the fields above, and
    // the reply comes as the upstream's own chunks (stream_event::kind::chunk).
    std::optional<forwarded_request> forward;
};

} // namespace tokenrelay
