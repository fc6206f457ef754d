#pragma once
// All sessions of the process, shared by every event loop. Sharded by the hash of the
// id so loops rarely contend; ids are then compared in constant time (section 3).

#include <tokenrelay/session/client_table.hpp>
#include <tokenrelay/session/session.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenrelay::session {

/// A new reply let through, or why not (PROTOCOL.md sections 2 and 7). Each door tells
/// the client its own way: an error frame for a chat, an HTTP status for a completion.
struct reply_admission
{
    generation_ticket ticket;    // the client's count of running replies, held while it runs
    upstream::request_slot slot; // one of --max-upstream-requests, likewise
    std::optional<errc> refused; // rate_limited or overloaded; then nothing is held
    std::string message;         // with refused
    std::int64_t retry_after_ms = 0;

    explicit operator bool() const noexcept { return !refused; }
};

struct registry_counters
{
    std::atomic<std::uint64_t> created{0};
    std::atomic<std::uint64_t> resumed{0};
    std::atomic<std::uint64_t> taken_over{0}; // evicted past the connection cap (4001)
    std::atomic<std::uint64_t> too_slow{0};   // evicted behind the log (4002)
    std::atomic<std::uint64_t> expired{0};
    std::atomic<std::uint64_t> evicted{0};   // ended early to keep a client within its bounds
    std::atomic<std::uint64_t> forgotten{0}; // removed, for whatever reason
};

class registry
{
public:
    explicit registry(client_limits limits) : clients(limits) {}

    /// A new session of `client` (its IP address). Past the client's bound on sessions,
    /// its oldest detached session is ended to make room (client_table).
    std::shared_ptr<session> create(
        loop_executor home,
        upstream::model_source& source,
        const session_settings& settings,
        std::string client
    );
    /// The live session with this id, or null.
    std::shared_ptr<session> find(std::string_view id) const;

    /// What load() found.
    struct loaded
    {
        std::shared_ptr<session> found;
        std::optional<errc> refused; // session_not_found or store_unavailable
    };
    /// With a shared store: the session with this id as the store holds it, made here
    /// with `home` as its loop, to resume a connection that has seqs through `last_seq`.
    /// Run on `home`. Refused with store_unavailable when the store cannot be read or
    /// lacks what the client holds (frames delivered while it was down, section 8).
    awaitable<loaded> load(
        std::string id,
        std::uint64_t last_seq,
        loop_executor home,
        upstream::model_source& source,
        const session_settings& settings,
        std::string client
    );
    /// Removes a session whose resume window ended.
    void forget(const session& s);
    /// Ends a detached session before its resume window is over: its reply is stopped
    /// and it is forgotten.
    void end(const std::shared_ptr<session>& s);

    /// A new reply of `client`, to be run by session `member` (null: a completion
    /// request). Section 7: refused past the client's rate, or past its bound on running
    /// replies unless one of them runs in a detached session, which is then stopped to
    /// make room. Section 2: refused with `overloaded` when every upstream request of
    /// `slots` is taken (null: no cap), and once replies are refused for the drain.
    reply_admission
    admit_reply(std::string_view client, const void* member, upstream::request_slots* slots);
    /// The drain (sections 2 and 8): every reply from now on is refused with `overloaded`,
    /// so the client takes its chat to another instance. Any thread.
    void refuse_replies() noexcept { refusing_replies_.store(true, std::memory_order_relaxed); }

    std::size_t size() const;
    std::vector<std::shared_ptr<session>> all() const;

    registry_counters counters;
    client_table clients;

private:
    /// Adds `s`, made elsewhere, unless a session with its id is here already: returns
    /// the one that is.
    std::shared_ptr<session> add(std::shared_ptr<session> s);

    struct shard
    {
        mutable std::mutex mutex;
        std::unordered_multimap<std::size_t, std::shared_ptr<session>> sessions;
    };
    shard& shard_for(std::size_t hash) const { return shards_[hash % shards_.size()]; }

    mutable std::array<shard, 32> shards_;
    std::atomic<bool> refusing_replies_{false};
};

} // namespace tokenrelay::session
