#include <tokenrelay/session/replay_log.hpp>

#include <algorithm>

namespace tokenrelay::session {
namespace {

// Per-entry bookkeeping counts against the byte bound too, so a flood of tiny tokens
// cannot hold more memory than the bound says.
constexpr std::size_t entry_overhead = 48;

// A text buffer this small is kept whatever it holds, so short replies do not churn it.
constexpr std::size_t min_shrunk_text = 1024;

std::size_t cost(std::string_view text)
{
    return text.size() + entry_overhead;
}

} // namespace

template <class WriteText>
void replay_log::push(
    std::uint64_t seq, entry_kind kind, std::string_view message_id, WriteText&& write_text
)
{
    add_message(message_id);
    const auto at = text_.size();
    try {
        write_text(text_);
        entry e{};
        e.seq = seq;
        e.offset = total_;
        e.text_at = text_base_ + at;
        e.text_size = static_cast<std::uint32_t>(text_.size() - at);
        e.message = next_message_;
        e.kind = kind;
        entries_.push_back(e);
        total_ += e.text_size + entry_overhead;
    } catch (...) {
        // Text without its entry would break the adjacency that joining relies on.
        text_.resize(at);
        throw;
    }
    trim();
}

void replay_log::begin_message(std::string_view message_id)
{
    previous_message_seq_ = current_message_seq_;
    current_message_seq_ = next_seq_;
    // Keep the current and the previous message (PROTOCOL.md section 3).
    while (!entries_.empty() && previous_message_seq_ != 0 &&
           entries_.front().seq < previous_message_seq_)
        pop_front();
    // Its id is copied now, once, so that its tokens copy nothing but their text.
    add_message(message_id);
}

void replay_log::add_message(std::string_view message_id)
{
    if (messages_.empty() || messages_.back().id != message_id)
        messages_.push_back(message{++next_message_, std::string(message_id)});
}

std::uint64_t
replay_log::append_text(entry_kind kind, std::string_view message_id, std::string_view text)
{
    const auto seq = next_seq_++;
    push(seq, kind, message_id, [&](std::string& out) { out.append(text); });
    return seq;
}

void replay_log::append_error(errc code, std::string_view message, std::string_view message_id)
{
    push(next_seq_, entry_kind::error, message_id, [&](std::string& out) {
        protocol::append_error_frame(out, code, message, message_id);
    });
}

std::uint64_t replay_log::append_end(protocol::stream_end_fields fields)
{
    fields.seq = next_seq_++;
    push(fields.seq, entry_kind::end, fields.id, [&](std::string& out) {
        protocol::append_stream_end_frame(out, fields);
    });
    return fields.seq;
}

std::uint64_t replay_log::first_seq() const noexcept
{
    if (!entries_.empty())
        return entries_.front().seq;
    return next_seq_ == 1 ? 0 : next_seq_;
}

std::size_t replay_log::index_after(std::uint64_t cursor) const noexcept
{
    // Entries are ordered by seq; an error shares the seq of the entry it precedes, so
    // "after the cursor" starts at the first entry whose seq is greater. A writer that
    // keeps up has its cursor a few entries from the end: look there first, and search
    // the rest only for an old cursor (a resume, a slow client).
    constexpr std::size_t near_end = 8;
    std::size_t i = entries_.size();
    for (std::size_t steps = 0; i > 0 && steps < near_end; ++steps, --i) {
        if (entries_[i - 1].seq <= cursor)
            return i;
    }
    const auto it = std::upper_bound(
        entries_.begin(),
        entries_.begin() + static_cast<std::ptrdiff_t>(i),
        cursor,
        [](std::uint64_t c, const entry& e) { return c < e.seq; }
    );
    return static_cast<std::size_t>(it - entries_.begin());
}

std::size_t replay_log::bytes_after(std::uint64_t cursor) const noexcept
{
    const auto i = index_after(cursor);
    if (i == entries_.size())
        return 0;
    return total_ - entries_[i].offset;
}

std::uint64_t replay_log::collect(
    std::uint64_t cursor, std::size_t max_bytes, std::int64_t now_ms, protocol::frame_batch& out
) const
{
    std::size_t sent = 0;
    std::size_t i = index_after(cursor);
    while (i < entries_.size() && sent < max_bytes) {
        const entry& e = entries_[i];
        if (e.kind == entry_kind::end || e.kind == entry_kind::error) {
            const auto frame = text_of(e);
            out.add() = frame;
            sent += frame.size();
            cursor = e.seq;
            ++i;
            // An error frame never ends a batch: the cursor already names the seq of the
            // stream_end it precedes.
            if (e.kind == entry_kind::error && i < entries_.size())
                sent = std::min(sent, max_bytes - 1);
            continue;
        }
        std::size_t j = i + 1;
        std::size_t joined_bytes = e.text_size;
        while (j < entries_.size() && entries_[j].kind == e.kind &&
               entries_[j].message == e.message &&
               sent + joined_bytes + entries_[j].text_size <= max_bytes) {
            joined_bytes += entries_[j].text_size;
            ++j;
        }
        // Entries are stored in order, so the run's texts are one span of the buffer.
        const std::string_view content(text_.data() + (e.text_at - text_base_), joined_bytes);
        const auto& last = entries_[j - 1];
        auto& frame = out.add();
        protocol::append_token_frame(
            frame,
            e.kind == entry_kind::token ? "token" : "reasoning",
            content,
            now_ms,
            last.seq,
            id_of(e)
        );
        sent += frame.size();
        cursor = last.seq;
        i = j;
    }
    return cursor;
}

std::size_t replay_log::storage_bytes() const noexcept
{
    std::size_t held = text_.capacity() + entries_.capacity() * sizeof(entry) +
                       messages_.capacity() * sizeof(message);
    for (const auto& m : messages_)
        if (m.id.capacity() > std::string().capacity())
            held += m.id.capacity();
    return held;
}

std::string_view replay_log::text_of(const entry& e) const noexcept
{
    return {text_.data() + (e.text_at - text_base_), e.text_size};
}

std::string_view replay_log::id_of(const entry& e) const noexcept
{
    // At most a few messages are live (the current, the previous, and one being dropped).
    for (std::size_t k = messages_.size(); k-- > 0;)
        if (messages_[k].number == e.message)
            return messages_[k].id;
    return {};
}

void replay_log::pop_front()
{
    dropped_ += cost(text_of(entries_.front()));
    entries_.pop_front();
    while (!messages_.empty() &&
           (entries_.empty() || messages_.front().number != entries_.front().message))
        messages_.pop_front();
    if (entries_.empty()) {
        text_base_ += text_.size();
        std::string().swap(text_);
        return;
    }
    // Dropped text is erased once it is as long as the live part, so each byte is moved
    // at most about once; like front_queue, a buffer far larger than what it keeps is
    // given back, so a session does not hold its longest reply's peak.
    const auto dead = entries_.front().text_at - text_base_;
    if (dead * 2 < text_.size())
        return;
    text_.erase(0, dead);
    text_base_ += dead;
    if (text_.capacity() >= 4 * std::max(text_.size(), min_shrunk_text))
        text_.shrink_to_fit();
}

void replay_log::trim()
{
    // Never drop the entry just appended: a single frame larger than the bound is still
    // delivered once.
    while (entries_.size() > 1 && bytes() > max_bytes_)
        pop_front();
}

} // namespace tokenrelay::session
