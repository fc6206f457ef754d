#pragma once
// A connection attached to a session, as the session sees it (PROTOCOL.md section 3).

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
};

} // namespace tokenrelay::session
