#pragma once
// A session's conversation (PROTOCOL.md section 4): user messages and assistant replies,
// bounded by turn count and bytes, oldest dropped first. Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/session/front_queue.hpp>

#include <cstddef>
#include <vector>

namespace tokenrelay::session {

class history
{
public:
    history(std::size_t max_turns, std::size_t max_bytes)
        : max_turns_(max_turns), max_bytes_(max_bytes)
    {}

    void add(chat_turn turn);
    std::vector<chat_turn> turns() const { return {turns_.begin(), turns_.end()}; }
    std::size_t size() const noexcept { return turns_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    front_queue<chat_turn> turns_;
    std::size_t bytes_ = 0;
    std::size_t max_turns_;
    std::size_t max_bytes_;
};

} // namespace tokenrelay::session
