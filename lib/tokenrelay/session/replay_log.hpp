#pragma once
// A session's seq-numbered output (PROTOCOL.md sections 3 and 5). One structure gives
// buffering, joining, backpressure and replay: each attached connection is a cursor (the
// last seq it has sent), the writer takes everything after its cursor, joined, and the
// upstream reader pauses while the part after the cursor is over the backlog limit.
// Sans-I/O.

#include <tokenrelay/protocol/frame_batch.hpp>
#include <tokenrelay/protocol/server_frame.hpp>
#include <tokenrelay/session/front_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::session {

// user_parts: a user message with images, its text the content parts' JSON.
enum class entry_kind : std::uint8_t { user, user_parts, token, reasoning, refusal, end, error };

class replay_log
{
public:
    /// `max_bytes` bounds what the log holds; past it the oldest entries go first.
    explicit replay_log(std::size_t max_bytes = 16 << 20) : max_bytes_(max_bytes) {}

    /// Message `message_id` starts: the log keeps this one and the previous one, and
    /// drops anything older.
    void begin_message(std::string_view message_id);

    /// Appends the `user` frame of message `message_id`: the chat's content, as sent.
    /// Returns its seq.
    std::uint64_t append_user(std::string_view message_id, std::string_view text)
    {
        return append_text(entry_kind::user, message_id, text);
    }
    std::uint64_t append_user(std::string_view message_id, const chat_turn& turn)
    {
        if (!turn.parts.empty())
            return append_text(entry_kind::user_parts, message_id, turn.parts);
        return append_text(entry_kind::user, message_id, turn.content);
    }

    /// Appends generated text of one message and returns its seq.
    std::uint64_t append_text(entry_kind kind, std::string_view message_id, std::string_view text);

    /// Appends an `error` frame tied to the generation; it is delivered just before the
    /// next seq-bearing entry (the generation's stream_end) and carries no seq itself.
    void append_error(errc code, std::string_view message, std::string_view message_id);

    /// Appends the generation's stream_end; `fields.seq` is assigned here and returned.
    std::uint64_t append_end(protocol::stream_end_fields fields);

    /// The first seq of the previous message: what begin_message keeps from (0: all).
    std::uint64_t kept_from_seq() const noexcept { return previous_message_seq_; }
    /// Highest seq assigned, 0 when none.
    std::uint64_t last_seq() const noexcept { return next_seq_ - 1; }
    /// Oldest seq still held; 0 for a log that never held anything, last_seq()+1 when
    /// everything was dropped.
    std::uint64_t first_seq() const noexcept;

    /// Bytes of frames after `cursor` (what a connection at that cursor has not sent).
    std::size_t bytes_after(std::uint64_t cursor) const noexcept;
    /// Bytes the log holds.
    std::size_t bytes() const noexcept { return total_ - dropped_; }
    /// Memory the log's storage takes, reserved capacity included.
    std::size_t storage_bytes() const noexcept;

    /// Serialises the entries after `cursor` into WebSocket messages appended to `out`:
    /// consecutive token (or reasoning) entries of one message become one frame whose
    /// seq is the last one's; a user entry is a frame of its own. Stops once about `max_bytes` are
    /// out, and before any entry past `through_seq` (a shared store's log sends only what
    /// the store holds). Returns the new cursor (unchanged when there was nothing to send).
    std::uint64_t collect(
        std::uint64_t cursor,
        std::size_t max_bytes,
        std::int64_t now_ms,
        protocol::frame_batch& out,
        std::uint64_t through_seq = std::numeric_limits<std::uint64_t>::max()
    ) const;

    /// The text of the entry appended last: token text, or the serialised frame of an end
    /// or an error (what a shared store keeps of it).
    std::string_view last_text() const noexcept;

    /// Appends an entry written by another instance (a shared store's log) with its own
    /// seq. Entries at or below last_seq() are ignored (already here); one past a gap
    /// moves the log on to it, as if the missing ones had been dropped. Returns whether
    /// it was appended.
    bool append_stored(
        entry_kind kind, std::uint64_t seq, std::string_view message_id, std::string_view text
    );

private:
    // (No member initialisers: front_queue checks that these are nothrow default
    // constructible, which cannot be known inside the class that declares them.)
    // Every entry's text lives in one buffer, in seq order, and an entry names its
    // message by number: appending a token copies its bytes and allocates nothing once
    // the buffers have grown, however long the token or the message id. Tokens
    // waiting together are then adjacent bytes, so joining them copies nothing either.
    struct entry
    {
        std::uint64_t seq;       // for errors: the seq of the entry they precede
        std::size_t offset;      // bytes appended before this entry
        std::size_t text_at;     // where its text starts in the text buffer's history
        std::uint32_t text_size; // token text, or the serialised frame for end and error
        std::uint32_t message;   // number of its message in storage::messages
        entry_kind kind;
    };
    struct message
    {
        std::uint32_t number;
        std::string id;
    };

    std::string_view text_of(const entry& e) const noexcept;
    std::string_view id_of(const entry& e) const noexcept;
    std::size_t index_after(std::uint64_t cursor) const noexcept;
    void add_message(std::string_view message_id);
    /// Appends an entry whose text `write_text(std::string&)` appends to the text buffer.
    template <class WriteText>
    void
    push(std::uint64_t seq, entry_kind kind, std::string_view message_id, WriteText&& write_text);
    void pop_front();
    void trim();

    // What a log holds once something is appended, apart so that a session that never
    // chatted carries only the counters below (memory per session).
    struct storage
    {
        front_queue<entry> entries;
        front_queue<message> messages; // the messages entries refer to, oldest first
        std::uint32_t next_message = 0;
        // Texts of entries, oldest first, after a prefix of dropped ones; text_base is
        // how many bytes were ever erased from its front.
        std::string text;
        std::size_t text_base = 0;
    };
    /// The storage, made on first use by a change.
    storage& held();
    /// The storage, or an empty one.
    const storage& held() const noexcept;

    std::unique_ptr<storage> held_;
    std::uint64_t next_seq_ = 1;
    std::size_t total_ = 0;   // bytes ever appended
    std::size_t dropped_ = 0; // bytes of dropped entries
    std::size_t max_bytes_;
    std::uint64_t previous_message_seq_ = 0; // first seq of the previous message
    std::uint64_t current_message_seq_ = 0;  // first seq of the current message
};

} // namespace tokenrelay::session
