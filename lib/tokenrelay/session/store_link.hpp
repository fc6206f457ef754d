#pragma once
// What a session keeps of the shared store (PROTOCOL.md section 8): its keys, the frames
// logged here and not yet acknowledged, and how far the store holds its log. Only a
// session of a relay with a shared store has one.

#include <tokenrelay/store/log_record.hpp>
#include <tokenrelay/store/loop_store.hpp>
#include <tokenrelay/store/session_commands.hpp>
#include <tokenrelay/store/session_keys.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::session {

/// A load's replies (store::load_request), or nothing, logged with the session's short
/// id, when they are not one.
std::optional<store::stored_session>
parse_stored(const std::vector<store::resp_value>& replies, std::string_view session_id);

struct store_link
{
    store_link(store::loop_store& l, store::session_keys k) : loop(l), keys(std::move(k)) {}

    store::loop_store& loop; // the home loop's
    const store::session_keys keys;

    // Guarded by the session's mutex.
    std::vector<store::log_record> unsent;           // logged here, not yet sent to the store
    std::uint64_t durable_seq = 0;                   // connections send up to here
    bool local_only = false;                         // frames went out without the store
    std::optional<store::stored_turn> turn_user;     // the running turn's question
    std::vector<store::stored_turn> ended_turns;     // to join the stored history
    bool end_pending = false;                        // a turn ended: save and release
    std::chrono::steady_clock::time_point touched{}; // an append last renewed the keys' expiry

    // Home loop only.
    bool in_flight = false;  // an append waits for its reply
    bool writer = false;     // this instance holds the lease of the running reply
    bool reading = false;    // a read of the log is on its way
    bool read_again = false; // news came during it
    bool watching = false;   // watch_writer runs
    bool joined = false;     // subscribed, kept alive
};

} // namespace tokenrelay::session
