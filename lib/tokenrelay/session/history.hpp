#pragma once
// A session's conversation (PROTOCOL.md section 4): user messages and assistant replies,
// bounded by turn count and bytes, oldest dropped first; the images of user messages by
// bytes of their own, the oldest images dropped first and their turns' text kept.
// Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/session/front_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::session {

class history
{
public:
    /// A turn and the message id of the chat it belongs to: a user message and its reply
    /// share the chat's id (the `history` frame carries it).
    struct entry
    {
        chat_turn turn;
        std::string id;
    };

    /// Both bounds are at most what the flags allow (64 turns, 256 KiB).
    history(std::size_t max_turns, std::size_t max_bytes, std::size_t max_image_bytes = 0)
        : max_turns_(static_cast<std::uint32_t>(max_turns)),
          max_bytes_(static_cast<std::uint32_t>(max_bytes)),
          max_image_bytes_(static_cast<std::uint32_t>(max_image_bytes))
    {}

    void add(chat_turn turn, std::string id = {});
    /// The turns, oldest first, as an upstream request's messages.
    std::vector<chat_turn> turns() const;
    const front_queue<entry>& entries() const noexcept { return turns_; }
    std::size_t size() const noexcept { return turns_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }
    std::size_t image_bytes() const noexcept { return image_bytes_; }

private:
    front_queue<entry> turns_;
    std::size_t bytes_ = 0;       // text
    std::size_t image_bytes_ = 0; // content parts (chat_turn::parts)
    // Narrow: a session holds a history, and there are thousands of sessions.
    std::uint32_t max_turns_;
    std::uint32_t max_bytes_;
    std::uint32_t max_image_bytes_;
};

/// Appends as much of `more` to `text` as keeps it within `limit` bytes, cut at a UTF-8
/// character boundary. A running reply is kept so: the history could hold no more of it,
/// and its whole text would otherwise grow with the reply (the log beside it is bounded).
void append_within(std::string& text, std::string_view more, std::size_t limit);

} // namespace tokenrelay::session
