#include <tokenrelay/session/history.hpp>

namespace tokenrelay::session {

void history::add(chat_turn turn)
{
    bytes_ += turn.content.size();
    turns_.push_back(std::move(turn));
    while (!turns_.empty() && (turns_.size() > max_turns_ || bytes_ > max_bytes_)) {
        bytes_ -= turns_.front().content.size();
        turns_.pop_front();
    }
}

} // namespace tokenrelay::session
