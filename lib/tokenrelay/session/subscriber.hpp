#pragma once
// A connection attached to a session, as the session sees it (PROTOCOL.md section 3).

#include <tokenrelay/core/error.hpp>

#include <cstdint>
#include <string>

namespace tokenrelay::session {

/// Why a session lets go of one of its connections before the connection ends.
enum class eviction {
    taken_over, // a newer connection joined past --max-connections-per-session: 4001
    too_slow,   // the log no longer holds what the connection has not sent: 4002
};

class subscriber
{
public:
    virtual ~subscriber() = default;
    /// The log grew or the generation changed state. Thread-safe, cheap, may be called
    /// for every token.
    virtual void wake() = 0;
    /// The session has let go of this connection: close it with the eviction's code.
    /// Thread-safe.
    virtual void evicted(eviction why) = 0;
    /// A chat of this connection was refused after start_chat returned (with a shared
    /// store, only the store knows another instance is generating): send the error
    /// frame. Thread-safe.
    virtual void
    refused(errc code, std::string message, std::string id, std::int64_t retry_after_ms) = 0;
};

} // namespace tokenrelay::session
