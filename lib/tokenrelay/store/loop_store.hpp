#pragma once
// The shared store as one event loop sees it (PROTOCOL.md section 8): a command
// connection for everything its sessions write and read, a subscriber connection for the
// Pub/Sub channels they follow, and two sweeps that keep one request per loop per period
// instead of one timer per session: lease renewals for the replies generated here, and
// key touches for the sessions with connections here. Used only on its loop.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/store/redis_connection.hpp>
#include <tokenrelay/store/session_keys.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace tokenrelay::store {

struct store_timing
{
    connection_timing connection{};
    std::chrono::milliseconds lease_ttl{5000};
    std::chrono::milliseconds lease_renew{1000};
    std::chrono::milliseconds key_ttl{60000}; // the resume window
};

class loop_store
{
public:
    loop_store(
        net::any_io_executor executor,
        redis_endpoint endpoint,
        store_timing timing,
        std::string instance_id
    );
    ~loop_store();
    loop_store(const loop_store&) = delete;
    loop_store& operator=(const loop_store&) = delete;

    void start();
    void stop();

    /// Both connections carry requests.
    bool up() const noexcept;
    /// Called on the loop each time up() changes.
    void on_state_change(std::function<void(bool up)> callback)
    {
        on_state_change_ = std::move(callback);
    }
    redis_connection& commands() noexcept { return *commands_; }
    const store_timing& timing() const noexcept { return timing_; }
    const std::string& instance() const noexcept { return instance_; }

    /// Messages on `channel` go to `handler` (one per channel on a loop). After the
    /// subscriber connection comes back, every handler is called with an empty payload:
    /// messages may have been missed, so look at the store again.
    void subscribe(const std::string& channel, std::function<void(std::string_view)> handler);
    void unsubscribe(const std::string& channel);

    /// A lease held by this loop is renewed every lease_renew until released; `lost` is
    /// called when a renewal finds it gone (or the store down for longer than the lease).
    void hold_lease(const session_keys& keys, std::function<void()> lost);
    void release_lease(const std::string& lease_key);

    /// Records in the store that the session went on without it (stored_meta's
    /// local_only), now or as soon as the store is back.
    void mark_local(const session_keys& keys);

    /// The keys of a session with connections here are touched every key_ttl / 3.
    void keep_alive(const session_keys& keys);
    void stop_keeping_alive(const std::string& meta_key);

private:
    awaitable<void> sweep(std::shared_ptr<bool> alive);
    void resubscribe();
    void state_changed();
    void send_local_marks();

    net::any_io_executor executor_;
    store_timing timing_;
    std::string instance_;
    std::shared_ptr<redis_connection> commands_;
    std::shared_ptr<redis_connection> subscriber_;
    std::unordered_map<std::string, std::function<void(std::string_view)>> channels_;
    struct lease
    {
        session_keys keys;
        std::function<void()> lost;
    };
    std::unordered_map<std::string, lease> leases_;      // by lease key
    std::unordered_map<std::string, session_keys> kept_; // by meta key
    std::vector<std::string> local_marks_;               // meta keys, not yet sent
    std::chrono::steady_clock::time_point last_touch_{};
    net::steady_timer sweep_timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::function<void(bool)> on_state_change_;
    bool was_up_ = false;
};

} // namespace tokenrelay::store
