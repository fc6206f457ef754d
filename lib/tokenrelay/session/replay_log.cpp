#include <tokenrelay/session/replay_log.hpp>

#include <algorithm>

namespace tokenrelay::session {
namespace {

// Per-entry bookkeeping counts against the byte bound too, so a flood of tiny tokens
// cannot hold more memory than the bound says.
constexpr std::size_t entry_overhead = 48;

std::size_t cost(std::string_view text)
{
    return text.size() + entry_overhead;
}

} // namespace

void replay_log::begin_message()
{
    previous_message_seq_ = current_message_seq_;
    current_message_seq_ = next_seq_;
    // Keep the current and the previous message (PROTOCOL.md section 3).
    while (!entries_.empty() && previous_message_seq_ != 0 &&
           entries_.front().seq < previous_message_seq_) {
        dropped_ += cost(entries_.front().text);
        entries_.pop_front();
    }
}

std::uint64_t
replay_log::append_text(entry_kind kind, std::string_view message_id, std::string text)
{
    const auto seq = next_seq_++;
    push(entry{seq, total_, kind, std::string(message_id), std::move(text)});
    return seq;
}

void replay_log::append_error(errc code, std::string_view message, std::string_view message_id)
{
    std::string frame;
    protocol::append_error_frame(frame, code, message, message_id);
    push(entry{next_seq_, total_, entry_kind::error, std::string(message_id), std::move(frame)});
}

std::uint64_t replay_log::append_end(protocol::stream_end_fields fields)
{
    fields.seq = next_seq_++;
    std::string frame;
    protocol::append_stream_end_frame(frame, fields);
    push(entry{fields.seq, total_, entry_kind::end, fields.id, std::move(frame)});
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
    // Joining is rare (a writer that fell behind); its scratch buffer is per loop thread.
    static thread_local std::string joined;
    while (i < entries_.size() && sent < max_bytes) {
        const entry& e = entries_[i];
        if (e.kind == entry_kind::end || e.kind == entry_kind::error) {
            out.add() = e.text;
            sent += e.text.size();
            cursor = e.seq;
            ++i;
            // An error frame never ends a batch: the cursor already names the seq of the
            // stream_end it precedes.
            if (e.kind == entry_kind::error && i < entries_.size())
                sent = std::min(sent, max_bytes - 1);
            continue;
        }
        std::size_t j = i + 1;
        std::size_t joined_bytes = e.text.size();
        while (j < entries_.size() && entries_[j].kind == e.kind &&
               entries_[j].message_id == e.message_id &&
               sent + joined_bytes + entries_[j].text.size() <= max_bytes) {
            joined_bytes += entries_[j].text.size();
            ++j;
        }
        // The common case, a writer that keeps up, sends one entry: no joining copy.
        std::string_view content = e.text;
        if (j > i + 1) {
            joined.clear();
            for (std::size_t k = i; k < j; ++k)
                joined += entries_[k].text;
            content = joined;
        }
        const auto& last = entries_[j - 1];
        auto& frame = out.add();
        protocol::append_token_frame(
            frame,
            e.kind == entry_kind::token ? "token" : "reasoning",
            content,
            now_ms,
            last.seq,
            e.message_id
        );
        sent += frame.size();
        cursor = last.seq;
        i = j;
    }
    return cursor;
}

void replay_log::push(entry e)
{
    total_ += cost(e.text);
    entries_.push_back(std::move(e));
    trim();
}

void replay_log::trim()
{
    // Never drop the entry just appended: a single frame larger than the bound is still
    // delivered once.
    while (entries_.size() > 1 && bytes() > max_bytes_) {
        dropped_ += cost(entries_.front().text);
        entries_.pop_front();
    }
}

} // namespace tokenrelay::session
