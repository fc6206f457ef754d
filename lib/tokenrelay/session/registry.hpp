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

struct registry_counters
{
    std::atomic<std::uint64_t> created{0};
    std::atomic<std::uint64_t> resumed{0};
    std::atomic<std::uint64_t> taken_over{0};
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
    /// Removes a session whose resume window ended.
    void forget(const session& s);
    /// Ends a detached session before its resume window is over: its reply is stopped
    /// and it is forgotten.
    void end(const std::shared_ptr<session>& s);

    std::size_t size() const;
    std::vector<std::shared_ptr<session>> all() const;

    registry_counters counters;
    client_table clients;

private:
    struct shard
    {
        mutable std::mutex mutex;
        std::unordered_multimap<std::size_t, std::shared_ptr<session>> sessions;
    };
    shard& shard_for(std::size_t hash) const { return shards_[hash % shards_.size()]; }

    mutable std::array<shard, 32> shards_;
};

} // namespace tokenrelay::session
