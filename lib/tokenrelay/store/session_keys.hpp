#pragma once
// The names of a session's keys in the shared store (PROTOCOL.md section 8). They carry a
// hash of the session id, never the id (a bearer secret), and a Cluster hash tag so a
// session's keys share one slot and one MULTI or script may touch them all.

#include <string>
#include <string_view>

namespace tokenrelay::store {

struct session_keys
{
    std::string tag;     // "{<hash>}": the part every key shares
    std::string log;     // Stream: the seq-numbered frames
    std::string meta;    // Hash: counters and the running reply
    std::string history; // List: completed turns, oldest first
    std::string lease;   // String: the instance generating a reply, with a TTL
    std::string notify;  // Pub/Sub channel: the log grew
    std::string cancel;  // Pub/Sub channel: stop the running reply
};

/// 128 bits of SHA-256 of the id, base64url: 22 characters.
std::string session_hash(std::string_view session_id);

session_keys keys_for(std::string_view session_id);

} // namespace tokenrelay::store
