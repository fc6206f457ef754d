#pragma once
// The commands a session sends to the shared store (PROTOCOL.md section 8), built as
// requests and read back from replies. Sans-I/O: a redis_connection carries them.
//
// Keys live for `ttl` after their last touch: every write touches what it writes, and an
// instance with connections on a session touches all of its keys while they are there.

#include <tokenrelay/store/log_record.hpp>
#include <tokenrelay/store/redis_request.hpp>
#include <tokenrelay/store/resp.hpp>
#include <tokenrelay/store/session_keys.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenrelay::store {

/// A completed turn as the history list keeps it.
struct stored_turn
{
    stored_turn() = default;
    stored_turn(std::string role_, std::string content_, std::string id_, std::string parts_ = {})
        : role(std::move(role_)), content(std::move(content_)), id(std::move(id_)),
          parts(std::move(parts_))
    {}

    std::string role;
    std::string content;
    std::string id;
    std::string parts; // chat_turn::parts: set for a user turn with images
};

std::string encode_turn(const stored_turn& t);
/// Throws std::invalid_argument on anything else.
stored_turn decode_turn(std::string_view json);

/// Counters of a session that every instance must agree on.
struct stored_meta
{
    std::uint64_t next_message = 1; // the number in the next "m<N>" id
    std::uint64_t through_seq = 0;  // the last completed turn's stream_end
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    double cost_usd = 0;
    /// Some of its frames were delivered without the store (it was down): it stays on
    /// its instance (section 8), and a resume elsewhere gets store_unavailable.
    bool local_only = false;
};

/// Everything needed to serve a session on an instance that did not have it.
struct stored_session
{
    bool exists = false;
    stored_meta meta;
    std::vector<stored_turn> history;
    std::vector<log_record> records; // after the seq asked for
    std::uint64_t last_seq = 0;      // the last seq stored, whatever was asked for
    bool leased = false;             // an instance generates a reply now
};

/// Appends `records` to the log (with `meta`, when given), tells followers the last
/// seq, and, with `touch_ttl`, sets the keys to expire that long from now. Replies: one
/// per record, then the rest.
redis_request append_request(
    const session_keys& k,
    std::span<const log_record> records,
    const stored_meta* meta,
    std::optional<std::chrono::milliseconds> touch_ttl
);
/// Whether an append's replies say every record was stored.
bool append_succeeded(const std::vector<resp_value>& replies);

/// One consistent read (MULTI/EXEC) of a session: meta, history, the log after
/// `after_seq`, the last stored seq, and whether a lease is held.
redis_request load_request(const session_keys& k, std::uint64_t after_seq);
/// Throws std::invalid_argument on replies of another shape.
stored_session parse_load(const std::vector<resp_value>& replies);

/// The log after `after_seq`.
redis_request read_request(const session_keys& k, std::uint64_t after_seq);

/// Takes the lease for `instance` if no one holds it. Reply: OK, or nil when held.
redis_request take_lease_request(
    const session_keys& k, std::string_view instance, std::chrono::milliseconds lease_ttl
);
/// Extends the lease only while `instance` holds it. Reply: 1, or 0 when lost.
void push_renew_lease(
    redis_request& r,
    const session_keys& k,
    std::string_view instance,
    std::chrono::milliseconds lease_ttl
);

/// A turn ended: its two turns join the history (trimmed to `max_turns`), the log loses
/// what is below `keep_from_seq` (0: nothing), the meta is saved, the lease given back if
/// it is still `instance`'s, and every key touched.
redis_request end_turn_request(
    const session_keys& k,
    std::span<const stored_turn> turns,
    std::size_t max_turns,
    std::uint64_t keep_from_seq,
    const stored_meta& meta,
    std::string_view instance,
    std::chrono::milliseconds ttl
);

/// Gives the lease back if it is still `instance`'s.
redis_request release_lease_request(const session_keys& k, std::string_view instance);

/// Saves the meta alone (a new session, a counter that moved) and touches every key.
redis_request
save_meta_request(const session_keys& k, const stored_meta& meta, std::chrono::milliseconds ttl);

/// Keeps every key of the session alive for `ttl` more.
void push_touch(redis_request& r, const session_keys& k, std::chrono::milliseconds ttl);

/// Asks the instance generating the session's reply to stop it.
redis_request cancel_request(const session_keys& k);

} // namespace tokenrelay::store
