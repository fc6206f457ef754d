#pragma once
// What each client (one IP address) holds of the relay, bounded where it is spent:
// sessions, attached or detached; replies running at once, WebSocket and HTTP alike; and
// chat messages per minute, which a new session does not reset (PROTOCOL.md section 7).
// A client that opens sessions, chats and drops them in a loop therefore spends at most
// its own bounds, and only ever its own sessions are ended to make room.
//
// Sessions are opaque members here (the registry holds the real ones), so the table is
// unit-tested without event loops. It never calls into a session: what it decides to end
// is returned to the caller, which ends it outside the table's lock.

#include <tokenrelay/core/error.hpp>
#include <tokenrelay/session/rate_limiter.hpp>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tokenrelay::session {

struct client_limits
{
    std::size_t sessions_per_client = 100;   // --max-sessions-per-ip
    std::size_t generations_per_client = 20; // --max-generations-per-ip
    std::size_t detached_sessions = 20000;   // --max-detached-sessions, all clients
    unsigned chats_per_minute = 300;         // --rate-limit-per-ip; 0: no limit
};

class client_table;

/// One running reply counted against its client; given back when destroyed or reset.
class generation_ticket
{
public:
    generation_ticket() = default;
    generation_ticket(generation_ticket&& o) noexcept;
    generation_ticket& operator=(generation_ticket&& o) noexcept;
    ~generation_ticket() { reset(); }

    explicit operator bool() const noexcept { return table_ != nullptr; }
    /// The reply ended.
    void reset() noexcept;
    /// The chat was refused after all (busy, another limit): the reply never ran, and its
    /// chat does not count against the client's rate either.
    void give_back() noexcept;

private:
    friend class client_table;
    generation_ticket(client_table* table, std::string client, const void* member, std::uint64_t n)
        : table_(table), client_(std::move(client)), member_(member), number_(n)
    {}
    void release(bool refund) noexcept;

    client_table* table_ = nullptr;
    std::string client_;
    const void* member_ = nullptr; // the session that runs it; null for an HTTP request
    std::uint64_t number_ = 0;
};

class client_table
{
public:
    using member = std::shared_ptr<void>;

    explicit client_table(client_limits limits) : limits_(limits) {}
    client_table(const client_table&) = delete;
    client_table& operator=(const client_table&) = delete;

    const client_limits& limits() const noexcept { return limits_; }

    /// Whether `client` may open a session now: under its bound, or holding a detached
    /// session that adding one would end.
    bool may_add_session(std::string_view client) const;
    /// Counts `m` as a session of `client`. Past the client's bound, returns its oldest
    /// detached session, which the caller ends (null when there is none to end).
    member add_session(const member& m, std::string_view client, std::int64_t now_ms);
    /// `m` has no connection now: it joins the detached sessions, oldest first. Past the
    /// bound on detached sessions of all clients, returns the oldest of them to end.
    member session_detached(const member& m);
    /// `m` has a connection again.
    void session_attached(const void* m);
    /// `m` is gone; nothing happens for a member the table does not hold.
    void remove_session(const void* m);

    struct admission
    {
        generation_ticket ticket; // empty when refused
        errc refusal = errc::rate_limited;
        std::string message;
        std::int64_t retry_after_ms = 0;
        member to_cancel; // over the bound: the client's oldest detached running reply
    };
    /// A new reply for `client`, run by session `m` (null for an HTTP request). Refused
    /// past the client's chat rate, or past its bound on running replies unless one of
    /// them runs in a detached session: then that one (the oldest) is returned to cancel
    /// and the new one is admitted in its place.
    admission admit_generation(std::string_view client, std::int64_t now_ms, const void* m);

    struct counts
    {
        std::size_t clients = 0;
        std::size_t detached_sessions = 0;
    };
    counts totals() const;
    /// What one client holds (for tests and diagnostics).
    std::size_t sessions_of(std::string_view client) const;
    std::size_t generations_of(std::string_view client) const;

private:
    friend class generation_ticket;
    using detached_list = std::list<const void*>;

    struct client_record
    {
        explicit client_record(unsigned per_minute) : limiter(per_minute) {}
        std::size_t sessions = 0;
        std::size_t generations = 0;
        rate_limiter limiter;
        detached_list detached; // this client's detached sessions, oldest first
    };
    struct member_record
    {
        std::string client;
        std::weak_ptr<void> weak;
        std::uint64_t generation = 0; // the running reply's ticket number; 0: none
        bool detached = false;
        detached_list::iterator in_all;
        detached_list::iterator in_client;
    };

    using client_map = std::unordered_map<std::string, client_record>;

    void end_generation(
        const std::string& client, const void* m, std::uint64_t number, bool refund
    ) noexcept;
    client_record& record_of(std::string_view client, std::int64_t now_ms);
    void leave_detached(member_record& r, client_record& c);
    /// Drops the record of a client that holds nothing and whose rate is back in full at
    /// `now_ms` (an earlier time only keeps it longer: the next sweep looks again).
    void forget_if_idle(client_map::iterator it, std::int64_t now_ms);

    const client_limits limits_;
    mutable std::mutex mutex_;
    client_map clients_;
    std::unordered_map<const void*, member_record> members_;
    detached_list detached_; // every client's detached sessions, oldest first
    std::uint64_t next_ticket_ = 1;
    std::int64_t last_sweep_ms_ = 0;
};

} // namespace tokenrelay::session
