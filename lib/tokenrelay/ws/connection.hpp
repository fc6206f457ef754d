#pragma once
// One WebSocket connection (PROTOCOL.md section 2): a reader coroutine that decodes
// client frames and a single writer coroutine through which every outgoing frame passes
// (control frames from a small bounded queue, generation frames from the session's log).
// The writer runs while there is something to send or a reply is streaming, and then
// ends; a timer wait holds the connection's next ping until something starts it again.
//
// The WebSocket framing is the relay's own (frame_reader, frame_writer, handshake): an
// idle connection then holds no read buffer and no timer of its own beyond the ping wait,
// and a token frame goes out as one gathered write of header and payload (issue 7).
// With --compression, Beast's stream does the framing instead, because it negotiates
// permessage-deflate, which the relay's framing does not implement.

#include <tokenrelay/core/lazy_timer.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/ws/frame_reader.hpp>
#include <tokenrelay/ws/frame_writer.hpp>
#include <tokenrelay/ws/relay_state.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::ws {

// With --compression. Over the bare socket: the WebSocket keeps its own timers (handshake,
// idle, and the write deadline below), so beast::tcp_stream's three would only cost memory.
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
    connection(tcp::socket socket, relay_state& state, loop_context& loop);

    /// Starts a connection whose upgrade request has been answered (switching_protocols):
    /// resumes or makes its session and queues the session frame. `already_read`: bytes
    /// that came after the request, read with it (a client's first frames). `client_ip`:
    /// whose sessions it makes (the per-client bounds).
    void open(
        const std::optional<resume_request>& resume,
        std::string client_ip,
        std::string_view already_read = {}
    );
    /// Reads client frames until the connection ends, then detaches from the session.
    /// `self` keeps the connection alive meanwhile; the connection slot reserved for `ip`
    /// (connection_set::try_reserve) is released when this ends, however it ends.
    awaitable<void> serve(std::shared_ptr<connection> self, std::string ip);
    /// With --compression: Beast's handshake for `request`, open(), then as serve().
    awaitable<void> serve_compressed(
        std::shared_ptr<connection> self,
        http::request<http::string_body> request,
        std::optional<resume_request> resume,
        std::string ip
    );

    void wake() override;
    void close_taken_over() override;
    /// Flushes what the session has for this connection, then closes with 1001.
    void close_for_shutdown();

private:
    /// Beast's handshake; false if the connection is not a WebSocket after all.
    awaitable<bool> accept_compressed(http::request<http::string_body>& request);
    awaitable<void> read_loop_compressed();
    /// After the reader: waits for the writer to end, then leaves the session.
    awaitable<void> finish(std::shared_ptr<connection> self);
    /// Waits while too many answers wait for a client that does not read them.
    awaitable<void> wait_for_control_room();
    /// Acts on one thing the frame reader found; false when reading is over.
    bool on_read_event(const read_event& event);
    /// A whole data message from the client, from either framing.
    void on_message(bool text, std::string_view data);
    /// Sends what is due until the connection closes (true), or until it has nothing to
    /// send and no reply is streaming (false: parked). `self` keeps the connection alive.
    awaitable<bool> write_loop(std::shared_ptr<connection> self);
    void start_writer();
    /// Writes what the session has for this connection without the writer, when the
    /// writer only waits for a streaming reply; false when the writer must do it (or
    /// finish it, or park).
    bool write_directly();
    /// One frame's header and payload, as much as the socket takes without waiting.
    std::size_t write_at_once(const frame_header& header, std::string_view payload, error_code& ec);
    /// Tells the writer there may be something to send, starting it if it is parked.
    void notify_writer();
    /// Sends close_ and waits (briefly) for the client's close in answer.
    awaitable<void> close_handshake();
    /// A rare frame (pong, close) already framed, under the write deadline.
    awaitable<error_code> write_whole_frame(std::string_view frame);
    void on_writer_done(std::exception_ptr e);
    void handle_text(std::string_view text);
    void start_fresh_session();
    void resume(const resume_request& r);
    void request_close(websocket::close_code code, std::string_view reason);
    void watch_write();
    void on_write_watch(error_code ec);
    void stop_write_watch();
    /// When a quiet connection next needs the writer: its ping, or with the relay's own
    /// framing, the idle timeout's keep-alive ping and the idle timeout itself.
    std::chrono::steady_clock::time_point quiet_deadline() const;
    enum class quiet_action { none, ping, drop };
    quiet_action on_quiet() const;
    /// Holds a parked writer's next ping (or idle check) in a timer wait.
    void arm_parked_wait();
    void drop_idle();
    bool control_backlogged() const noexcept;
    void close_socket() noexcept;
    void enqueue(std::string frame);
    void enqueue_error(
        errc code,
        std::string_view message,
        std::string_view id = {},
        std::optional<std::int64_t> retry_after_ms = std::nullopt
    );
    std::string log_id() const;

    loop_socket socket_;                           // unused with --compression
    std::unique_ptr<websocket_stream> compressed_; // with --compression only
    relay_state& state_;
    loop_context& loop_;
    loop_timer wake_timer_;
    lazy_timer reader_timer_; // only a reader held back, or ending, waits
    // Section 5: a client that stops reading is disconnected. The idle timeout only sees
    // reads, so a write pending for --idle-timeout closes the socket. One timer for the
    // connection, re-armed at most once per timeout rather than for every frame, and
    // freed while the writer is parked.
    lazy_timer write_timer_;
    std::chrono::steady_clock::time_point write_started_{}; // the last frame's, pings too
    std::chrono::steady_clock::time_point last_read_{};
    bool writing_ = false;
    bool write_watch_armed_ = false;
    std::atomic<bool> wake_pending_{false};

    // Touched only on this connection's loop.
    std::vector<std::string> control_;      // text frames: pongs, errors, session frames
    std::vector<std::string> wire_control_; // whole WebSocket frames: pongs to client pings
    frame_reader frames_in_;
    std::string unread_; // read but not yet parsed while the reader waits for room
    std::shared_ptr<session::session> session_;
    std::string client_ip_;
    // Set once the connection is to close. Held apart: close_reason carries a 123-byte
    // reason buffer that an open connection does not need (issue 7, memory per session).
    std::unique_ptr<websocket::close_reason> close_;
    bool reader_done_ = false;
    bool reader_waiting_ = false;
    bool writer_done_ = false;
    bool writer_running_ = false;
    bool ping_due_ = false;        // set by a parked writer's ping wait
    bool awaiting_stream_ = false; // the writer waits for a streaming reply's frames
    bool first_frame_ = true;
    bool pinged_since_read_ = false;
    bool discarding_ = false; // the client broke the protocol: read only to the end
};

} // namespace tokenrelay::ws
