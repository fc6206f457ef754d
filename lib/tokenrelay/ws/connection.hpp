#pragma once
// One WebSocket connection (PROTOCOL.md section 2), written once over either framing
// (transport.hpp). A reader decodes client frames and hands each message to
// client_messages, which turns it into session calls and answer frames. Every frame goes
// out through one write path: a writer coroutine that runs while there is something to
// send or a reply is streaming, and then ends, a timer wait holding the connection's next
// keep-alive deadline (keepalive_policy) until something starts it again. While the writer
// only waits for a streaming reply, the session's wake writes the new frames itself with
// the same collect-and-write steps, when the socket takes them at once
// (write_from_wake, docs/performance.md; switched off with
// -DTOKENRELAY_WRITE_FROM_WAKE=OFF). A write pending for --idle-timeout closes the
// connection (section 5: a client that stops reading is disconnected).

#include <tokenrelay/core/lazy_timer.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/runtime/relay_state.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/ws/beast_transport.hpp>
#include <tokenrelay/ws/client_messages.hpp>
#include <tokenrelay/ws/keepalive_policy.hpp>
#include <tokenrelay/ws/own_transport.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace tokenrelay::ws {

class connection final : public session::subscriber,
                         public runtime::open_connection,
                         public std::enable_shared_from_this<connection>
{
public:
    connection(tcp::socket socket, runtime::relay_state& state, runtime::loop_context& loop);

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
    void evicted(session::eviction why) override;
    void
    refused(errc code, std::string message, std::string id, std::int64_t retry_after_ms) override;
    /// Flushes what the session has for this connection, then closes with 1001.
    void close_for_shutdown() override;

private:
    using transport_variant = std::variant<own_transport, beast_transport>;
    static transport_variant make_transport(
        tcp::socket socket,
        runtime::relay_state& state,
        runtime::loop_context& loop,
        keepalive_policy& k
    );

    // Reading (connection_reader.cpp).
    /// The reader, then finish(). Not a coroutine of its own under serve(): this frame and
    /// co_spawn's are what an idle connection holds.
    template <class T>
    awaitable<void> read_loop(T& t, std::shared_ptr<connection> self, std::string ip);
    /// What the reader does after an event: read on, wait for input, end, or end after
    /// discarding the rest of a stream the client broke.
    enum class read_step { go_on, need_input, stop, broken };
    /// Parses the next event the framing has and acts on it.
    template <class T> read_step on_next_event(T& t);
    /// Acts on one event the framing found; false when reading is over.
    template <class T> bool on_event(T& t, const client_event& event);
    template <class T> bool answers_backlogged(const T& t) const noexcept;
    /// Waits while too many answers wait for a client that does not read them.
    template <class T> awaitable<void> wait_for_answer_room(const T& t);
    /// After the reader: waits for the writer to end, then leaves the session.
    awaitable<void> finish(std::shared_ptr<connection> self);

    // Writing (connection_writer.cpp).
    /// Sends what is due until the connection closes (true), or until it has nothing to
    /// send and no reply is streaming (false: parked). `self` keeps the connection alive.
    template <class T> awaitable<bool> write_loop(T& t, std::shared_ptr<connection> self);
    /// The speed trick: writes what the session has from its wake, when the writer only
    /// waits for a streaming reply; false when the writer must do it (or finish it, or park).
    template <class T> bool write_from_wake(T& t);
    /// The session's frames due on this connection: what both write paths send.
    bool collect(protocol::frame_batch& frames);
    /// A keep-alive ping, under the write watchdog.
    template <class T> awaitable<error_code> send_ping(T& t);
    /// Sends the close frame and waits (briefly) for the client's close in answer.
    template <class T> awaitable<void> close_handshake(T& t);
    void start_writer();
    /// Tells the writer there may be something to send, starting it if it is parked.
    void notify_writer();
    void on_writer_done(std::exception_ptr e);
    void wake_reader();
    void count_sent(std::size_t bytes);

    // Keep-alive and the write watchdog (connection.cpp).
    keepalive_config keepalive() const noexcept;
    /// What the keep-alive deadline calls for, done: a drop, or a ping for the writer.
    keepalive_action on_keepalive_deadline();
    /// Holds a parked writer's next keep-alive deadline in a timer wait.
    void arm_parked_wait();
    void drop_idle();
    /// A frame starts going out: the keep-alive's write time and the watchdog.
    void begin_write();
    void watch_write();
    void on_write_watch(error_code ec);
    void stop_write_watch();

    void request_close(std::uint16_t code, std::string_view reason);
    void close_socket() noexcept;
    loop_executor executor() const noexcept { return messages_.loop().executor; }

    client_messages messages_;
    keepalive_policy keepalive_; // before transport_: Beast's reports its control frames
    transport_variant transport_;
    loop_timer wake_timer_;
    lazy_timer reader_timer_; // only a reader held back, or ending, waits
    // One timer for the connection, re-armed at most once per timeout rather than for
    // every frame, and freed while the writer is parked.
    lazy_timer write_timer_;
    // Set once the connection is to close. Held apart: close_reason carries a 123-byte
    // reason buffer that an open connection does not need.
    std::unique_ptr<websocket::close_reason> close_;
    std::atomic<bool> wake_pending_{false};
    bool writing_ = false;
    bool write_watch_armed_ = false;
    bool reader_done_ = false;
    bool reader_waiting_ = false;
    bool writer_done_ = false;
    bool writer_running_ = false;
    bool ping_due_ = false;          // set when the keep-alive deadline calls for a ping
    bool awaiting_stream_ = false;   // the writer waits for a streaming reply's frames
    bool answers_in_flight_ = false; // the writer holds answers it has not written yet
};

} // namespace tokenrelay::ws
