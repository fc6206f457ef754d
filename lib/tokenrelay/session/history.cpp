#include <tokenrelay/session/history.hpp>

namespace tokenrelay::session {

void history::add(chat_turn turn, std::string id)
{
    bytes_ += turn.content.size();
    image_bytes_ += turn.parts.size();
    turns_.push_back(entry{std::move(turn), std::move(id)});
    while (!turns_.empty() && (turns_.size() > max_turns_ || bytes_ > max_bytes_)) {
        bytes_ -= turns_.front().turn.content.size();
        image_bytes_ -= turns_.front().turn.parts.size();
        turns_.pop_front();
    }
    // Past the image bound the oldest turns lose their images and keep their text.
    for (std::size_t i = 0; i < turns_.size() && image_bytes_ > max_image_bytes_; ++i) {
        auto& t = turns_[i].turn;
        image_bytes_ -= t.parts.size();
        std::string().swap(t.parts);
    }
}

std::vector<chat_turn> history::turns() const
{
    std::vector<chat_turn> out;
    out.reserve(turns_.size());
    for (const auto& e : turns_)
        out.push_back(e.turn);
    return out;
}

void append_within(std::string& text, std::string_view more, std::size_t limit)
{
    if (text.size() >= limit)
        return;
    if (more.size() > limit - text.size()) {
        auto n = limit - text.size();
        // Back off to the start of the character that would be cut (continuation bytes
        // are 10xxxxxx).
        while (n > 0 && (static_cast<unsigned char>(more[n]) & 0xC0) == 0x80)
            --n;
        more = more.substr(0, n);
    }
    text.append(more);
}

} // namespace tokenrelay::session
