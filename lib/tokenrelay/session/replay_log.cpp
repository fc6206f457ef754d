#include <tokenrelay/session/replay_log.hpp>

#include <algorithm>

namespace tokenrelay::session {
namespace {

// Per-entry bookkeeping counts against the byte bound too, so a flood of tiny tokens
// cannot hold more memory than the bound says.
constexpr std::size_t entry_overhead = 48;

// A text buffer this small is kept whatever it holds, so short replies do not churn it.
constexpr std::size_t min_shrunk_text = 1024;

std::size_t cost(std::size_t text_bytes)
{
    return text_bytes + entry_overhead;
}

/// The frame type of a text entry; user, token, reasoning and refusal frames share their
/// fields.
std::string_view frame_type(entry_kind kind)
{
    switch (kind) {
    case entry_kind::user:
        return "user";
    case entry_kind::reasoning:
        return "reasoning";
    case entry_kind::refusal:
        return "refusal";
    default:
        return "token";
    }
}

} // namespace

replay_log::storage& replay_log::held()
{
    if (!held_)
        held_ = std::make_unique<storage>();
    return *held_;
}

const replay_log::storage& replay_log::held() const noexcept
{
    static const storage none;
    return held_ ? *held_ : none;
}

template <class WriteText>
void replay_log::push(
    std::uint64_t seq, entry_kind kind, std::string_view message_id, WriteText&& write_text
)
{
    add_message(message_id);
    auto& h = held();
    const auto at = h.text.size();
    try {
        write_text(h.text);
        entry e{};
        e.seq = seq;
        e.offset = total_;
        e.text_at = h.text_base + at;
        e.text_size = static_cast<std::uint32_t>(h.text.size() - at);
        e.message = h.next_message;
        e.kind = kind;
        h.entries.push_back(e);
        total_ += cost(e.text_size);
    } catch (...) {
        // Text without its entry would break the adjacency that joining relies on.
        h.text.resize(at);
        throw;
    }
    trim();
}

void replay_log::begin_message(std::string_view message_id)
{
    previous_message_seq_ = current_message_seq_;
    current_message_seq_ = next_seq_;
    // Keep the current and the previous message (PROTOCOL.md section 3).
    while (held_ && !held_->entries.empty() && previous_message_seq_ != 0 &&
           held_->entries.front().seq < previous_message_seq_)
        pop_front();
    // Its id is copied now, once, so that its tokens copy nothing but their text.
    add_message(message_id);
}

void replay_log::add_message(std::string_view message_id)
{
    auto& h = held();
    if (h.messages.empty() || h.messages.back().id != message_id)
        h.messages.push_back(message{++h.next_message, std::string(message_id)});
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

std::string_view replay_log::last_text() const noexcept
{
    const auto& entries = held().entries;
    return entries.empty() ? std::string_view{} : text_of(entries.back());
}

bool replay_log::append_stored(
    entry_kind kind, std::uint64_t seq, std::string_view message_id, std::string_view text
)
{
    if (seq < next_seq_)
        return false;
    // An error carries the seq of the stream_end after it, which is not assigned yet: one
    // already here has that seq too.
    if (kind == entry_kind::error && held_ && !held_->entries.empty() &&
        held_->entries.back().kind == entry_kind::error && held_->entries.back().seq == seq)
        return false;
    if (seq > next_seq_) {
        // The store's log was trimmed past what this one had: what lies between is gone,
        // exactly as if this log had dropped it.
        while (held_ && !held_->entries.empty())
            pop_front();
        next_seq_ = seq;
    }
    if (kind == entry_kind::user || kind == entry_kind::user_parts)
        begin_message(message_id);
    if (kind != entry_kind::error)
        ++next_seq_;
    push(seq, kind, message_id, [&](std::string& out) { out.append(text); });
    return true;
}

std::uint64_t replay_log::first_seq() const noexcept
{
    const auto& entries = held().entries;
    if (!entries.empty())
        return entries.front().seq;
    return next_seq_ == 1 ? 0 : next_seq_;
}

std::size_t replay_log::index_after(std::uint64_t cursor) const noexcept
{
    // Entries are ordered by seq; an error shares the seq of the entry it precedes, so
    // "after the cursor" starts at the first entry whose seq is greater. A writer that
    // keeps up has its cursor a few entries from the end: look there first, and search
    // the rest only for an old cursor (a resume, a slow client).
    const auto& entries = held().entries;
    constexpr std::size_t near_end = 8;
    std::size_t i = entries.size();
    for (std::size_t steps = 0; i > 0 && steps < near_end; ++steps, --i) {
        if (entries[i - 1].seq <= cursor)
            return i;
    }
    const auto it = std::upper_bound(
        entries.begin(),
        entries.begin() + static_cast<std::ptrdiff_t>(i),
        cursor,
        [](std::uint64_t c, const entry& e) { return c < e.seq; }
    );
    return static_cast<std::size_t>(it - entries.begin());
}

std::size_t replay_log::bytes_after(std::uint64_t cursor) const noexcept
{
    const auto& entries = held().entries;
    const auto i = index_after(cursor);
    if (i == entries.size())
        return 0;
    return total_ - entries[i].offset;
}

std::uint64_t replay_log::collect(
    std::uint64_t cursor,
    std::size_t max_bytes,
    std::int64_t now_ms,
    protocol::frame_batch& out,
    std::uint64_t through_seq
) const
{
    const auto& entries = held().entries;
    std::size_t sent = 0;
    std::size_t i = index_after(cursor);
    while (i < entries.size() && sent < max_bytes && entries[i].seq <= through_seq) {
        const entry& e = entries[i];
        if (e.kind == entry_kind::end || e.kind == entry_kind::error) {
            const auto frame = text_of(e);
            out.add() = frame;
            sent += frame.size();
            cursor = e.seq;
            ++i;
            // An error frame never ends a batch: the cursor already names the seq of the
            // stream_end it precedes.
            if (e.kind == entry_kind::error && i < entries.size())
                sent = std::min(sent, max_bytes - 1);
            continue;
        }
        std::size_t j = i + 1;
        std::size_t joined_bytes = e.text_size;
        const bool joins = e.kind != entry_kind::user && e.kind != entry_kind::user_parts;
        while (j < entries.size() && joins && entries[j].kind == e.kind &&
               entries[j].seq <= through_seq && entries[j].message == e.message &&
               sent + joined_bytes + entries[j].text_size <= max_bytes) {
            joined_bytes += entries[j].text_size;
            ++j;
        }
        // Entries are stored in order, so the run's texts are one span of the buffer.
        const std::string_view content(text_of(e).data(), joined_bytes);
        const auto& last = entries[j - 1];
        auto& frame = out.add();
        if (e.kind == entry_kind::user_parts)
            protocol::append_user_parts_frame(frame, content, now_ms, last.seq, id_of(e));
        else
            protocol::append_token_frame(
                frame, frame_type(e.kind), content, now_ms, last.seq, id_of(e)
            );
        sent += frame.size();
        cursor = last.seq;
        i = j;
    }
    return cursor;
}

std::size_t replay_log::storage_bytes() const noexcept
{
    if (!held_)
        return 0;
    const auto& h = *held_;
    std::size_t bytes = sizeof(storage) + h.text.capacity() + h.entries.capacity() * sizeof(entry) +
                        h.messages.capacity() * sizeof(message);
    for (const auto& m : h.messages)
        if (m.id.capacity() > std::string().capacity())
            bytes += m.id.capacity();
    return bytes;
}

std::string_view replay_log::text_of(const entry& e) const noexcept
{
    const auto& h = held();
    return {h.text.data() + (e.text_at - h.text_base), e.text_size};
}

std::string_view replay_log::id_of(const entry& e) const noexcept
{
    // At most a few messages are live (the current, the previous, and one being dropped).
    const auto& messages = held().messages;
    for (std::size_t k = messages.size(); k-- > 0;)
        if (messages[k].number == e.message)
            return messages[k].id;
    return {};
}

void replay_log::pop_front()
{
    auto& h = held();
    dropped_ += cost(h.entries.front().text_size);
    h.entries.pop_front();
    if (h.entries.empty()) {
        held_.reset(); // texts, message ids and all
        return;
    }
    while (!h.messages.empty() && h.messages.front().number != h.entries.front().message)
        h.messages.pop_front();
    // Dropped text is erased once it is as long as the live part, so each byte is moved
    // at most about once; like front_queue, a buffer far larger than what it keeps is
    // given back, so a session does not hold its longest reply's peak.
    const auto dead = h.entries.front().text_at - h.text_base;
    if (dead * 2 < h.text.size())
        return;
    h.text.erase(0, dead);
    h.text_base += dead;
    if (h.text.capacity() >= 4 * std::max(h.text.size(), min_shrunk_text))
        h.text.shrink_to_fit();
}

void replay_log::trim()
{
    // Never drop the entry just appended: a single frame larger than the bound is still
    // delivered once.
    while (held_ && held_->entries.size() > 1 && bytes() > max_bytes_)
        pop_front();
}

} // namespace tokenrelay::session
