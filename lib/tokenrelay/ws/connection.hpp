#pragma once
// One WebSocket connection (PROTOCOL.md section 2): a reader coroutine that decodes
// client frames and a single writer coroutine through which every outgoing frame passes
// (control frames from a small bounded queue, generation frames from the session's log).
// The writer runs while there is something to send or a reply is streaming, and then
// ends; a timer wait holds the connection's next ping until something starts it again.

#include <tokenrelay/core/lazy_timer.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/ws/relay_state.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::ws {

// Over the bare socket: the WebSocket keeps its own timers (handshake, idle, and the write
// deadline below), so beast::tcp_stream's three would only cost memory per connection.
using websocket_stream = websocket::stream<tcp::socket>;

/// Where a connection asked to resume from (query string or first `resume` frame).
struct resume_request
{
    std::string session;
    std::uint64_t last_seq = 0;
};

class connection final : public session::subscriber, public std::enable_shared_from_this<connection>
{
public:
    connection(websocket_stream ws, relay_state& state, loop_context& loop);

    /// Completes the handshake for `request` and serves the connection until it closes.
    /// `self` keeps the connection alive meanwhile; the connection slot reserved for `ip`
    /// (connection_set::try_reserve) is released when this ends, however it ends.
    awaitable<void>
    run(std::shared_ptr<connection> self,
        http::request<http::string_body> request,
        std::optional<resume_request> resume,
        std::string ip);

    void wake() override;
    void close_taken_over() override;
    /// Flushes what the session has for this connection, then closes with 1001.
    void close_for_shutdown();

private:
    awaitable<void> read_loop();
    /// Sends what is due until the connection closes (true), or until it has nothing to
    /// send and no reply is streaming (false: parked). `self` keeps the connection alive.
    awaitable<bool> write_loop(std::shared_ptr<connection> self);
    void start_writer();
    /// Tells the writer there may be something to send, starting it if it is parked.
    void notify_writer();
    void on_writer_done(std::exception_ptr e);
    void handle_text(std::string_view text);
    void start_fresh_session();
    void resume(const resume_request& r);
    void request_close(websocket::close_code code, std::string_view reason);
    void watch_write();
    void on_write_watch(error_code ec);
    void enqueue(std::string frame);
    void enqueue_error(
        errc code,
        std::string_view message,
        std::string_view id = {},
        std::optional<std::int64_t> retry_after_ms = std::nullopt
    );
    std::string log_id() const;

    websocket_stream ws_;
    relay_state& state_;
    loop_context& loop_;
    net::steady_timer wake_timer_;
    lazy_timer reader_timer_; // only a reader held back, or ending, waits
    // Section 5: a client that stops reading is disconnected. The idle timeout only sees
    // reads, so a write pending for --idle-timeout closes the socket. One timer for the
    // connection, re-armed at most once per timeout rather than for every frame.
    net::steady_timer write_timer_;
    std::chrono::steady_clock::time_point write_started_{};
    bool writing_ = false;
    bool write_watch_armed_ = false;
    std::atomic<bool> wake_pending_{false};

    // Touched only on this connection's loop.
    std::vector<std::string> control_;
    std::shared_ptr<session::session> session_;
    // Set once the connection is to close. Held apart: close_reason carries a 123-byte
    // reason buffer that an open connection does not need (issue 7, memory per session).
    std::unique_ptr<websocket::close_reason> close_;
    bool reader_done_ = false;
    bool reader_waiting_ = false;
    bool writer_done_ = false;
    bool writer_running_ = false;
    bool ping_due_ = false; // set by a parked writer's ping wait
    bool first_frame_ = true;
};

} // namespace tokenrelay::ws
