#pragma once
// A chat session (PROTOCOL.md sections 3 and 4). It outlives connections: it owns the
// running generation, its seq-numbered replay log and the conversation history, and each
// of its connections (tabs, devices; up to --max-connections-per-session) attaches to it
// as a cursor into the log, reading at its own pace.
//
// Threading: the relay runs one single-threaded event loop per core. A session lives on
// the loop that created it (its "home": generation, timers), while the connections
// attached to it may run on any loop. Shared state is guarded by one mutex, held only
// for short, non-blocking sections; cross-loop wake-ups are posted.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/drain_watch.hpp>
#include <tokenrelay/core/error.hpp>
#include <tokenrelay/core/lazy_timer.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/session/attachments.hpp>
#include <tokenrelay/session/client_table.hpp>
#include <tokenrelay/session/generation_log.hpp>
#include <tokenrelay/session/history.hpp>
#include <tokenrelay/session/rate_limiter.hpp>
#include <tokenrelay/session/replay_log.hpp>
#include <tokenrelay/session/reply_accounting.hpp>
#include <tokenrelay/session/subscriber.hpp>
#include <tokenrelay/session/usage.hpp>
#include <tokenrelay/store/session_commands.hpp>
#include <tokenrelay/upstream/model_source.hpp>
#include <tokenrelay/upstream/request_slots.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::store {
class shared_store;
}

namespace tokenrelay::session {

class registry;
struct store_link;

struct session_settings
{
    std::string model;
    std::size_t replay_log_bytes = 16 << 20;
    std::size_t backlog_bytes = 1 << 20;
    std::size_t history_max_turns = 64;
    std::size_t history_max_bytes = 256 * 1024;
    std::size_t history_max_image_bytes = 8u << 20; // --max-image-bytes: one chat's worth
    unsigned rate_limit = 30;
    std::chrono::milliseconds resume_window{60000};
    std::size_t max_connections = 8; // past it the oldest connection is evicted (4001)
    usage_prices prices;             // both 0: stream_end.usage carries no cost
    std::uint64_t token_budget = 0;  // prompt + completion tokens per session; 0: none
    bool log_content = false;        // generation_end logs the message and the reply
    /// Shared by every session (and the HTTP endpoint); null: no cap.
    upstream::request_slots* upstream_slots = nullptr;
    /// Told of every generation that ends, for the drain's wait; may be null.
    drain_watch* drain = nullptr;
    /// The shared store (section 8); null: sessions live in this process only.
    store::shared_store* store = nullptr;
};

/// What a session has consumed over all its generations (the token budget counts these).
struct usage_totals
{
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    double cost_usd = 0;
};

class session : public std::enable_shared_from_this<session>
{
public:
    session(
        std::string id,
        loop_executor home,
        upstream::model_source& source,
        const session_settings& settings,
        registry& owner,
        std::string client
    );
    ~session();

    const std::string& id() const noexcept { return id_; }

    /// With a shared store: joins it (follows its log, keeps its keys) and, for a session
    /// served elsewhere before, takes what the store holds of it. Call once, on the home
    /// loop, before the session is found by anyone.
    void join_store(const store::stored_session* stored);
    /// With a shared store: writes a new session there, so that a resume on another
    /// instance finds it; its id goes to the client only after this. On the home loop.
    awaitable<void> store_new();
    /// With a shared store: stops following it here (the session is forgotten).
    void leave_store();
    /// Some of its frames were delivered without the store (it was down).
    bool local_only() const;
    /// The client it belongs to (its IP address), for the per-client bounds.
    const std::string& client() const noexcept { return client_; }

    struct attach_result
    {
        std::uint64_t first_seq = 0;
        std::uint64_t last_seq = 0;
        std::size_t connections = 0; // this one included, an evicted one not
    };
    /// Attaches `s` with its cursor at `last_seq` (nullopt: a fresh connection, which
    /// starts at the end of the log), beside the connections the session has. Past
    /// --max-connections-per-session the oldest of them is evicted (4001).
    attach_result attach(std::shared_ptr<subscriber> s, std::optional<std::uint64_t> last_seq);
    /// Detaches `s` if it is attached; the last one to go starts the resume window.
    void detach(const subscriber* s);

    struct chat_outcome
    {
        std::optional<errc> refused; // busy or rate_limited
        std::string message;
        std::int64_t retry_after_ms = 0;
        std::string id; // the generation's message id
    };
    /// `from` is told of a refusal that only the store can decide (another instance
    /// is generating a reply) through subscriber::refused.
    chat_outcome start_chat(protocol::chat_frame chat, std::weak_ptr<subscriber> from = {});

    /// Stops the running generation, if any; its stream_end carries the reason.
    void stop(stop_reason why);
    /// Ends a detached session now rather than at the end of its resume window (the
    /// registry forgets it): its reply is stopped as the window's end would.
    void end_now();

    /// For an attached connection's writer: frames after its cursor, up to about
    /// `max_bytes`. Returns whether more are to come: a generation runs and `s` is still
    /// attached. A connection whose cursor the log has dropped is evicted (4002).
    bool collect(const subscriber* s, std::size_t max_bytes, protocol::frame_batch& out);

    /// Forgets the attached connections without the resume window; for process exit,
    /// where the session and its connections would otherwise keep each other alive.
    void drop_subscribers();

    bool generation_running() const;
    /// A generation runs, or (with a shared store) frames it logged are not yet
    /// acknowledged: what the drain waits for before the process may exit.
    bool work_pending() const;
    bool attached() const;
    std::size_t connection_count() const;
    /// The `history` frame (PROTOCOL.md section 4): the completed turns, through the seq
    /// of the last one's stream_end.
    std::string history_frame() const;
    usage_totals totals() const;

private:
    /// The running (or last) generation's reply and figures. A session that never
    /// chatted carries none of it: an idle session stays small.
    struct reply_state
    {
        std::string message_id;
        std::string text; // the content so far
        std::string model;
        std::string user_content; // kept only with log_content
        // The running generation's figures and usage (section 2, stream_end).
        std::optional<reply_accounting> accounting;
    };

    /// The attached connections, copied under the mutex to be woken outside it (a wake
    /// may write at once, which takes the mutex).
    using wake_list = std::vector<std::shared_ptr<subscriber>>;

    struct generation_end
    {
        ::tokenrelay::session::generation_record record;
        wake_list readers;
    };

    awaitable<void>
    run_generation(chat_request request, std::string message_id, std::uint64_t generation);
    awaitable<void> pump(upstream::event_channel& events, std::string message_id);
    awaitable<void> wait_for_stop();
    /// Ends generation number `generation` with a stop reason, unless it has ended.
    void finish_generation(std::uint64_t generation, std::optional<stop_reason> stopped);
    /// Appends `end` and makes the session ready for the next chat. Call with mutex_ held.
    generation_end end_generation_locked(protocol::stream_end_fields end);
    /// Logs an ended generation and wakes its writer; call without mutex_.
    void publish_end(const generation_end& done);
    /// The running generation's stream_end, with its usage accounted (session totals,
    /// metrics) when there is any. Call with mutex_ held, once per generation.
    protocol::stream_end_fields end_fields_locked(std::string_view reason);
    awaitable<void> expire_after_window(std::uint64_t epoch);

    /// The session's own checks of a chat before any limit is spent: busy, token budget.
    std::optional<chat_outcome> check_chat(const std::string& chat_id);
    /// Makes the chat the running generation; returns its upstream request. Call with
    /// mutex_ held.
    chat_request begin_generation_locked(protocol::chat_frame chat, const std::string& id);
    void spawn_generation(chat_request request, std::string id, std::uint64_t generation);
    chat_outcome
    refuse(errc code, std::string message, std::int64_t retry_after_ms, std::string id);
    /// Adds the attached connections to `out`. Call with mutex_ held.
    void readers_locked(wake_list& out);
    static void wake_all(const wake_list& readers);
    /// Whether every connection is over the backlog limit: the upstream read then pauses
    /// (section 5). False with none attached: a detached session reads into its log.
    bool all_behind_locked() const;
    /// After `s` left (detached or evicted): starts the resume window when it was the
    /// last, and lets a pump waiting for it look again.
    void after_leaving(bool was_last, bool wake_pump);

    // The shared store's half (stored_session.cpp); all of it on the home loop, except
    // what is marked as guarded by mutex_.
    void store_record_locked(entry_kind kind, std::string_view message_id);
    void flush_to_store();
    void
    on_flushed(error_code ec, const std::vector<store::resp_value>& replies, std::uint64_t last);
    void go_local_locked(std::string_view why);
    std::uint64_t deliverable_locked() const noexcept;
    /// The last seq of the log, read under the mutex.
    std::uint64_t logged_through() const;
    awaitable<void> begin_with_store(
        protocol::chat_frame chat,
        std::string id,
        std::uint64_t generation,
        std::weak_ptr<subscriber> from
    );
    bool begin_stored_generation(
        protocol::chat_frame& chat, const std::string& id, std::uint64_t generation
    );
    void apply_records(std::vector<store::log_record> records);
    void apply_meta_locked(const store::stored_meta& meta);
    store::stored_meta meta_locked() const;
    void on_notified(std::string_view payload);
    void read_more();
    awaitable<void> watch_writer();
    awaitable<bool> take_over_interrupted();
    void end_remote_turn_locked(std::string_view reason);
    /// Sets remote_running_ and keeps the gauge of followed replies in step with it.
    void set_remote_running_locked(bool running);
    void publish_cancel();

    const std::string id_;
    const std::string client_;
    const loop_executor home_;
    upstream::model_source& source_;
    const session_settings& settings_;
    registry& owner_;

    // Touched only on the home loop, and made there on first use: a session that never
    // chatted or detached needs none of them.
    lazy_timer stop_timer_;
    lazy_timer pump_timer_;
    lazy_timer expiry_timer_;

    mutable std::mutex mutex_;
    replay_log log_;
    history history_;
    rate_limiter limiter_;
    attachments attached_;
    std::uint64_t attach_epoch_ = 0;
    std::uint64_t through_seq_ = 0; // the last completed turn's stream_end
    upstream::request_slot slot_;   // held while a generation runs
    generation_ticket ticket_;      // the client's count of running replies, likewise
    std::uint64_t generation_ = 0;  // numbers generations, so a late finish is ignored
    // Side by side, as small members of an object there are thousands of.
    bool running_ = false;      // a generation has started and not logged its end
    bool pump_waiting_ = false; // the pump waits for a connection (backpressure)
    std::optional<stop_reason> stop_reason_;
    std::uint64_t next_message_number_ = 1;
    std::unique_ptr<reply_state> reply_; // made by the first chat
    usage_totals totals_;                // over all its generations
    bool remote_running_ = false;        // a turn generated by another instance is open
    std::unique_ptr<store_link> store_;  // with a shared store only
};

} // namespace tokenrelay::session
