#pragma once
// The open WebSocket connections, for the connection limits and the shutdown close.

#include <tokenrelay/core/drain_watch.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace tokenrelay::runtime {

/// An open connection as the set sees it: something the drain can ask to close.
class open_connection
{
public:
    /// Flushes what the connection still has to send, then closes with 1001
    /// (PROTOCOL.md section 2, shutdown).
    virtual void close_for_shutdown() = 0;

protected:
    ~open_connection() = default;
};

enum class reserve_result { reserved, over_total, over_per_ip };

class connection_set
{
public:
    /// `drain` learns of every connection that goes, for the drain's wait.
    explicit connection_set(drain_watch& drain) : drain_(drain) {}

    /// Reserves a slot for a new connection from `ip`; a limit reached means the upgrade
    /// is refused (503 / 429) before any session state exists.
    reserve_result
    try_reserve(const std::string& ip, std::size_t max_total, std::size_t max_per_ip);
    void release(const std::string& ip);

    void add(const std::shared_ptr<open_connection>& c);
    void remove(const std::shared_ptr<open_connection>& c);

    /// Asks every open connection to close with 1001 (section 2, shutdown).
    void close_all();
    std::size_t size() const;

private:
    drain_watch& drain_;
    mutable std::mutex mutex_;
    std::unordered_set<std::shared_ptr<open_connection>> open_;
    std::unordered_map<std::string, std::size_t> per_ip_;
    std::size_t reserved_ = 0;
};

} // namespace tokenrelay::runtime
