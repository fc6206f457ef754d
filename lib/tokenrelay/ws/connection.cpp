#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/protocol/server_frame.hpp>
#include <tokenrelay/ws/connection.hpp>
#include <tokenrelay/ws/frame_writer.hpp>
#include <tokenrelay/ws/handshake.hpp>

#include <boost/beast/core/buffers_suffix.hpp>

#include <array>
#include <variant>

namespace tokenrelay::ws {
namespace {

// A client that floods pings or bad frames without reading the answers stops being read
// once this many control frames wait (TCP then pushes back on it).
constexpr std::size_t max_pending_control = 64;
// One writer pass sends at most about this much, so control frames are not starved.
constexpr std::size_t max_batch_bytes = 64 * 1024;

// With Beast's stream (--compression) an idle connection always has a read pending, and
// Beast reserves room in the buffer before the first byte arrives: ask for little until a
// message has started (a ping fits; a chat takes one more step), then for more, and give
// the room back after each message.
constexpr std::size_t idle_read_bytes = 128;
constexpr std::size_t message_read_bytes = 16 * 1024;
// How long a closing connection waits for the client's half of the close handshake.
constexpr auto close_handshake_timeout = std::chrono::seconds(5);

// The relay's own framing waits for readability and then reads into this buffer, shared
// by every connection of the loop (one loop per thread): an idle connection holds none.
// What a read leaves unparsed when the reader must wait is copied out first.
net::mutable_buffer loop_read_buffer()
{
    static thread_local std::array<char, 16 * 1024> buffer;
    return net::buffer(buffer);
}

// A frame's header and payload from byte `skip` on, as one gathered buffer sequence: a
// frame goes out in one write, and the payload is not copied.
beast::buffers_suffix<std::array<net::const_buffer, 2>>
frame_rest(const frame_header& header, std::string_view payload, std::size_t skip)
{
    beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(std::array<net::const_buffer, 2>{
        net::buffer(header.data(), header.size()), net::buffer(payload)});
    rest.consume(skip);
    return rest;
}

} // namespace

connection::connection(tcp::socket socket, relay_state& state, loop_context& loop)
    : socket_(loop.executor), state_(state), loop_(loop), wake_timer_(socket_.get_executor()),
      frames_in_(state.config.max_message_bytes)
{
    if (state_.config.compression) {
        compressed_ = std::make_unique<websocket_stream>(std::move(socket));
        return;
    }
    // The same descriptor, registered again under the loop's own executor type.
    error_code ec;
    const auto protocol = socket.local_endpoint(ec).protocol();
    const auto fd = socket.release(ec);
    if (!ec)
        socket_.assign(protocol, fd, ec);
    // The reader reads only once the socket says it is readable, and never blocks.
    if (!ec)
        socket_.non_blocking(true, ec);
    if (ec)
        log::warn("ws_socket_failed", {{"error", ec.message()}}); // the first read then fails
}

void connection::close_socket() noexcept
{
    error_code ignored;
    if (compressed_)
        compressed_->next_layer().close(ignored);
    else
        socket_.close(ignored);
}

namespace {

// The connection slot reserved for an address (connection_set::try_reserve), given back
// however serving ends.
struct reservation
{
    connection_set& connections;
    const std::string& ip;
    ~reservation() { connections.release(ip); }
};

} // namespace

void connection::open(
    const std::optional<resume_request>& resume_from,
    std::string client_ip,
    std::string_view already_read
)
{
    client_ip_ = std::move(client_ip);
    unread_.assign(already_read);
    last_read_ = write_started_ = std::chrono::steady_clock::now();
    state_.connections.add(shared_from_this());
    if (resume_from)
        resume(*resume_from);
    else
        start_fresh_session();
    // The writer is a coroutine of its own beside the reader, started when there is
    // something to send. Not `||`: its parallel group would cost two more coroutine frames
    // per open connection (issue 7).
    start_writer();
}

awaitable<void> connection::serve(std::shared_ptr<connection> self, std::string ip)
{
    reservation held{state_.connections, ip};
    // The reader. Written out here rather than awaited as a coroutine of its own: this
    // frame and co_spawn's are what an idle connection holds (issue 7).
    std::string_view in = unread_; // read, not yet parsed
    for (;;) {
        if (control_backlogged()) {
            if (!in.empty()) {
                std::string keep(in); // the loop's buffer is another reader's meanwhile
                unread_.swap(keep);
                in = unread_;
            }
            co_await wait_for_control_room();
        }
        if (writer_done_)
            break;
        if (in.empty()) {
            if (!unread_.empty())
                std::string().swap(unread_);
            auto readable =
                with_op_memory(socket_.async_wait(tcp::socket::wait_read, deferred_tuple));
            auto [ec] = co_await std::move(readable);
            std::size_t n = 0;
            if (!ec)
                n = socket_.read_some(loop_read_buffer(), ec);
            if (ec == net::error::would_block)
                continue;
            if (ec) {
                log::debug("ws_read_end", {{"session", log_id()}, {"error", ec.message()}});
                break;
            }
            last_read_ = std::chrono::steady_clock::now();
            pinged_since_read_ = false;
            in = {static_cast<const char*>(loop_read_buffer().data()), n};
        }
        if (discarding_) {
            in = {};
            continue;
        }
        if (!on_read_event(frames_in_.next(in)))
            break;
    }
    co_await finish(std::move(self));
}

awaitable<void> connection::serve_compressed(
    std::shared_ptr<connection> self,
    http::request<http::string_body> request,
    std::optional<resume_request> resume_from,
    std::string ip
)
{
    reservation held{state_.connections, ip};
    if (!co_await accept_compressed(request))
        co_return;
    open(resume_from, ip);
    co_await read_loop_compressed();
    co_await finish(std::move(self));
}

awaitable<void> connection::finish(std::shared_ptr<connection> self)
{
    reader_done_ = true;
    notify_writer();
    // The writer flushes what is due and then ends; the session is detached after that.
    while (!writer_done_) {
        co_await reader_timer_.wait_until_cancelled(loop_.executor);
    }
    stop_write_watch();

    if (session_)
        session_->detach(this);
    state_.connections.remove(self);
    log::debug("ws_closed", {{"session", log_id()}});
}

awaitable<bool> connection::accept_compressed(http::request<http::string_body>& request)
{
    const auto& cfg = state_.config;
    auto& ws = *compressed_;
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = cfg.idle_timeout;
    timeouts.keep_alive_pings = true;
    ws.set_option(timeouts);
    ws.read_message_max(cfg.max_message_bytes);
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    ws.set_option(pmd);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::server, "tokenrelay");
    }));
    auto [accept_ec] = co_await ws.async_accept(request, use_tuple);
    // The request stays in the caller's frame for the connection's life; its fields need
    // not.
    request = {};
    if (accept_ec) {
        log::debug("ws_handshake_failed", {{"error", accept_ec.message()}});
        co_return false;
    }
    ws.text(true);
    // One frame per message: Beast would otherwise cut a joined batch into 4 KiB
    // fragments, each its own socket write.
    ws.auto_fragment(false);
    co_return true;
}

void connection::start_fresh_session()
{
    session_ =
        state_.sessions.create(loop_.executor, loop_.source, state_.session_settings, client_ip_);
    const auto r = session_->attach(shared_from_this(), std::nullopt);
    std::string frame;
    protocol::append_session_frame(frame, session_->id(), false, r.last_seq, r.first_seq);
    enqueue(std::move(frame));
    log::info("ws_session", {{"session", log_id()}, {"resumed", "false"}});
}

void connection::resume(const resume_request& r)
{
    auto found = state_.sessions.find(r.session);
    if (!found) {
        // Section 2: session_not_found, then a fresh session frame.
        enqueue_error(
            errc::session_not_found, "that session is unknown or its resume window has ended"
        );
        if (session_) {
            const auto first_last = session_->attach(shared_from_this(), std::nullopt);
            std::string frame;
            protocol::append_session_frame(
                frame, session_->id(), false, first_last.last_seq, first_last.first_seq
            );
            enqueue(std::move(frame));
        } else {
            start_fresh_session();
        }
        return;
    }
    if (session_ && session_ != found) {
        // The fresh session made at connect time was never used: drop it now rather
        // than keep it for a resume window.
        session_->detach(this);
        state_.sessions.forget(*session_);
    }
    session_ = std::move(found);
    const auto attached = session_->attach(shared_from_this(), r.last_seq);
    state_.sessions.counters.resumed.fetch_add(1, std::memory_order_relaxed);
    std::string frame;
    protocol::append_session_frame(
        frame, session_->id(), true, attached.last_seq, attached.first_seq
    );
    enqueue(std::move(frame));
    log::info(
        "ws_session",
        {{"session", log_id()}, {"resumed", "true"}, {"last_seq", std::to_string(r.last_seq)}}
    );
}

bool connection::control_backlogged() const noexcept
{
    return control_.size() + wire_control_.size() >= max_pending_control;
}

awaitable<void> connection::wait_for_control_room()
{
    while (control_backlogged() && !reader_done_ && !writer_done_) {
        reader_waiting_ = true;
        co_await reader_timer_.wait_until_cancelled(loop_.executor);
        reader_waiting_ = false;
    }
}

bool connection::on_read_event(const read_event& event)
{
    using kind = read_event::kind;
    switch (event.what) {
    case kind::need_more:
    case kind::pong: // a ping's answer: that it was read is all that counts
        return true;
    case kind::message:
        on_message(frames_in_.message_is_text(), frames_in_.message());
        frames_in_.release_message();
        return true;
    case kind::ping:
        // RFC 6455 section 5.5.2: answered with its own payload, through the writer.
        if (!close_) {
            wire_control_.push_back(make_frame(opcode::pong, frames_in_.control_payload()));
            notify_writer();
        }
        return true;
    case kind::close:
        // Section 5.5.1: answered with the same code, unless one of ours is already out.
        if (!close_) {
            const auto code = event.code == close_code::no_status ? close_code::normal : event.code;
            request_close(static_cast<websocket::close_code>(code), "");
        }
        return false;
    case kind::fail:
        log::debug(
            "ws_protocol_error", {{"session", log_id()}, {"error", std::string(event.reason)}}
        );
        request_close(static_cast<websocket::close_code>(event.code), event.reason);
        // The stream is broken: nothing more in it can be parsed. Read on to the client's
        // end of the connection, so closing does not reset it under the close frame.
        discarding_ = true;
        return true;
    }
    return true;
}

awaitable<void> connection::read_loop_compressed()
{
    auto& ws = *compressed_;
    beast::flat_buffer buffer;
    for (;;) {
        if (control_backlogged())
            co_await wait_for_control_room();
        if (writer_done_)
            co_return;
        buffer.clear();
        if (buffer.capacity() > idle_read_bytes)
            buffer.shrink_to_fit();
        // One whole message, read in steps: little room until it has started.
        std::size_t limit = idle_read_bytes;
        error_code ec;
        do {
            auto [read_ec, n] = co_await ws.async_read_some(buffer, limit, use_tuple);
            ec = read_ec;
            limit = message_read_bytes;
        } while (!ec && !ws.is_message_done());
        if (ec) {
            // Beast has already answered protocol violations with their close codes
            // (1007 invalid UTF-8, 1009 too big, 1002 protocol error).
            log::debug("ws_read_end", {{"session", log_id()}, {"error", ec.message()}});
            co_return;
        }
        const auto data = buffer.cdata();
        on_message(ws.got_text(), {static_cast<const char*>(data.data()), data.size()});
    }
}

void connection::on_message(bool text, std::string_view data)
{
    if (close_)
        return; // closing: drain until the peer's close frame arrives
    if (!text) {
        request_close(websocket::close_code::unknown_data, "binary frames are not supported");
        return;
    }
    handle_text(data);
}

void connection::handle_text(std::string_view text)
{
    const bool first = std::exchange(first_frame_, false);
    auto decoded = protocol::decode_client_frame(text, state_.frame_limits);
    if (auto* err = std::get_if<protocol::decode_error>(&decoded)) {
        enqueue_error(err->code, err->message, err->id);
        return;
    }
    auto& frame = std::get<protocol::client_frame>(decoded);
    if (auto* chat = std::get_if<protocol::chat_frame>(&frame)) {
        auto outcome = session_->start_chat(std::move(*chat));
        if (outcome.refused) {
            const bool limited = outcome.refused == errc::rate_limited;
            if (limited)
                metrics::global().rate_limit_refusals.fetch_add(1, std::memory_order_relaxed);
            // Section 2: both limits tell the client when to try again.
            const bool retry = limited || outcome.refused == errc::overloaded;
            enqueue_error(
                *outcome.refused,
                outcome.message,
                outcome.id,
                retry ? std::optional<std::int64_t>(outcome.retry_after_ms) : std::nullopt
            );
        }
    } else if (std::holds_alternative<protocol::cancel_frame>(frame)) {
        session_->stop(session::stop_reason::cancelled);
    } else if (auto* ping = std::get_if<protocol::ping_frame>(&frame)) {
        std::string out;
        protocol::append_pong_frame(out, now_ms(), ping->timestamp);
        enqueue(std::move(out));
    } else if (auto* r = std::get_if<protocol::resume_frame>(&frame)) {
        if (!first) {
            enqueue_error(errc::bad_request, "resume must be the first message on a connection");
            return;
        }
        resume({r->session, r->last_seq});
    }
}

void connection::start_writer()
{
    if (writer_running_ || writer_done_)
        return;
    writer_running_ = true;
    wake_timer_.cancel(); // a parked writer's ping wait: the new writer pings when due
    // From a posted handler: co_spawn would run the writer's first pass right here, inside
    // whatever asked for it (a session attaching, before its session frame is queued).
    net::post(socket_.get_executor(), [self = shared_from_this()] {
        net::co_spawn(
            self->socket_.get_executor(),
            self->write_loop(self),
            [self](std::exception_ptr e, bool finished) {
                if (e || finished)
                    self->on_writer_done(std::move(e));
            }
        );
    });
}

void connection::notify_writer()
{
    if (writer_running_)
        wake_timer_.cancel();
    else
        start_writer();
}

// `self` is unused but for keeping the connection alive while this runs.
awaitable<bool> connection::write_loop([[maybe_unused]] std::shared_ptr<connection> self)
{
    protocol::frame_batch frames;
    std::vector<std::string> wire_frames;
    for (;;) {
        wake_pending_.store(false, std::memory_order_release);
        frames.clear();
        for (auto& frame : control_)
            frames.push(std::move(frame));
        control_.clear();
        wire_frames.swap(wire_control_);
        if (reader_waiting_)
            reader_timer_.cancel();
        // Once closing, only a shutdown still flushes the session (its generation has
        // been stopped, so the log is finite); other closes must not wait on a stream.
        bool generating = false;
        if (session_ && (!close_ || close_->code == websocket::close_code::going_away))
            generating = session_->collect(this, max_batch_bytes, frames);
        if (frames.empty() && wire_frames.empty()) {
            if (close_) {
                co_await close_handshake();
                co_return true;
            }
            if (reader_done_)
                co_return true;
            // Section 5: ping a connection that has been quiet for --ping-interval.
            if (std::exchange(ping_due_, false)) {
                write_started_ = std::chrono::steady_clock::now();
                pinged_since_read_ = true;
                error_code ping_ec;
                if (compressed_) {
                    auto [ec] = co_await compressed_->async_ping({}, use_tuple);
                    ping_ec = ec;
                } else {
                    static constexpr std::string_view ping("\x89\x00", 2); // final, empty
                    ping_ec = co_await write_whole_frame(ping);
                }
                if (ping_ec)
                    co_return true;
                continue;
            }
            if (!generating) {
                // Nothing more is coming until the client or the session asks: park.
                // This coroutine ends and a timer wait holds the ping; anything to send
                // from now on starts a new writer, as this one no longer runs. Nothing
                // ran since the collect above, so nothing was missed. The queue is all
                // that outlives it: an idle connection keeps no buffer (issue 7).
                std::vector<std::string>().swap(control_);
                writer_running_ = false;
                stop_write_watch();
                arm_parked_wait();
                co_return false;
            }
            // A reply is streaming: wait here for its next frames, keeping little memory
            // meanwhile (a joined batch may have grown a large buffer).
            frames.release();
            wake_timer_.expires_at(quiet_deadline());
            auto wait = with_op_memory(wake_timer_.async_wait(deferred_tuple));
            awaiting_stream_ = true;
            auto [ec] = co_await std::move(wait);
            awaiting_stream_ = false;
            if (!ec) {
                switch (on_quiet()) {
                case quiet_action::drop:
                    drop_idle();
                    break;
                case quiet_action::ping:
                    ping_due_ = true;
                    break;
                case quiet_action::none:
                    break;
                }
            }
            continue;
        }
        ping_due_ = false; // frames going out make the connection not quiet
        auto& m = metrics::global();
        for (const auto& f : wire_frames) {
            const auto ec = co_await write_whole_frame(f);
            if (ec)
                co_return true;
        }
        wire_frames.clear();
        for (const auto& f : frames) {
            write_started_ = std::chrono::steady_clock::now();
            writing_ = true;
            watch_write();
            error_code ec;
            std::size_t n = 0;
            if (compressed_) {
                auto write =
                    with_op_memory(compressed_->async_write(net::buffer(f), deferred_tuple));
                std::tie(ec, n) = co_await std::move(write);
            } else {
                // Tried at once on the non-blocking socket: the send buffer nearly always
                // has room for a frame, and a write done here costs no reactor operation,
                // no posted completion and no coroutine resumption (issue 7: this runs
                // for every frame). Only what it could not take is awaited.
                const frame_header header(opcode::text, f.size());
                n = write_at_once(header, f, ec);
                if (!ec && n < header.size() + f.size()) {
                    const auto rest = frame_rest(header, f, n);
                    auto write = with_op_memory(net::async_write(socket_, rest, deferred_tuple));
                    auto [rest_ec, rest_n] = co_await std::move(write);
                    ec = rest_ec;
                    n += rest_n;
                }
                n -= std::min(n, header.size());
            }
            writing_ = false;
            if (ec)
                co_return true;
            m.frames_sent.fetch_add(1, std::memory_order_relaxed);
            m.bytes_sent.fetch_add(n, std::memory_order_relaxed);
        }
    }
}

awaitable<void> connection::close_handshake()
{
    if (compressed_) {
        co_await compressed_->async_close(*close_, use_tuple);
        co_return;
    }
    const auto frame = make_frame(
        opcode::close,
        close_payload(
            static_cast<std::uint16_t>(close_->code),
            std::string_view(close_->reason.data(), close_->reason.size())
        )
    );
    auto ec = co_await write_whole_frame(frame);
    if (ec)
        co_return;
    // Nothing follows the close frame; the client answers with its own and closes.
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    const auto deadline = std::chrono::steady_clock::now() + close_handshake_timeout;
    while (!reader_done_ && std::chrono::steady_clock::now() < deadline) {
        wake_timer_.expires_at(deadline);
        co_await wake_timer_.async_wait(use_tuple);
    }
}

awaitable<error_code> connection::write_whole_frame(std::string_view frame)
{
    write_started_ = std::chrono::steady_clock::now();
    writing_ = true;
    watch_write();
    auto [ec, n] = co_await net::async_write(socket_, net::buffer(frame), use_tuple);
    writing_ = false;
    co_return ec;
}

void connection::on_writer_done(std::exception_ptr e)
{
    writer_done_ = true;
    reader_timer_.cancel();
    if (!reader_done_) {
        // The close handshake is over or the socket failed: either way the reader has
        // nothing more to read, and a pending read would otherwise wait for the peer.
        close_socket();
    }
    log::connection_failure(e);
}

void connection::wake()
{
    if (wake_pending_.exchange(true, std::memory_order_acq_rel))
        return;
    // Called for every token. The session usually lives on this connection's loop, and
    // then the frames go out from here, or the writer is woken directly rather than
    // through one more posted handler.
    if (socket_.get_executor().running_in_this_thread()) {
        if (!write_directly())
            notify_writer();
    } else
        net::post(socket_.get_executor(), [self = shared_from_this()] { self->notify_writer(); });
}

std::size_t
connection::write_at_once(const frame_header& header, std::string_view payload, error_code& ec)
{
    const auto n = socket_.write_some(frame_rest(header, payload, 0), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
        ec = {};
        return 0;
    }
    return n;
}

bool connection::write_directly()
{
    // A writer waiting for a streaming reply's next frames would be woken, collect them,
    // write them and wait again: a posted completion, a coroutine resumption and a timer
    // re-armed for every token (issue 7). When nothing else waits to go out, the frames
    // are collected and written here instead and the writer waits on. Whatever the socket
    // does not take at once is left to the writer, framed, ahead of anything later.
    if (!awaiting_stream_ || compressed_ || close_ || ping_due_ || !session_ || !control_.empty() ||
        !wire_control_.empty())
        return false;
    // Per loop thread, not per connection: an idle connection keeps no frame buffer.
    static thread_local protocol::frame_batch frames;
    frames.clear();
    wake_pending_.store(false, std::memory_order_release);
    const bool generating = session_->collect(this, max_batch_bytes, frames);
    if (frames.empty())
        return generating;
    write_started_ = std::chrono::steady_clock::now();
    auto& m = metrics::global();
    bool left_over = false;
    for (const auto& f : frames) {
        if (left_over) {
            wire_control_.push_back(make_frame(opcode::text, f));
        } else {
            const frame_header header(opcode::text, f.size());
            error_code ec;
            const auto n = write_at_once(header, f, ec);
            if (ec) {
                // As a failed write in the writer: the connection is over.
                close_socket();
                return true;
            }
            if (n < header.size() + f.size()) {
                wire_control_.push_back(beast::buffers_to_string(frame_rest(header, f, n)));
                left_over = true;
            }
        }
        // Counted here, written or queued: the writer does not count the wire frames it
        // finishes.
        m.frames_sent.fetch_add(1, std::memory_order_relaxed);
        m.bytes_sent.fetch_add(f.size(), std::memory_order_relaxed);
    }
    // The writer finishes a partial write, and parks once the reply is over.
    return generating && !left_over;
}

std::chrono::steady_clock::time_point connection::quiet_deadline() const
{
    const auto& cfg = state_.config;
    auto deadline = write_started_ + cfg.ping_interval;
    if (!compressed_) {
        // Beast's keep-alive, kept: a client silent for half the idle timeout is pinged
        // once, and dropped at its end if it still says nothing.
        const auto idle = cfg.idle_timeout;
        deadline = std::min(deadline, last_read_ + (pinged_since_read_ ? idle : idle / 2));
    }
    return deadline;
}

connection::quiet_action connection::on_quiet() const
{
    const auto& cfg = state_.config;
    const auto now = std::chrono::steady_clock::now();
    if (!compressed_ && now >= last_read_ + cfg.idle_timeout)
        return quiet_action::drop;
    if (now >= write_started_ + cfg.ping_interval)
        return quiet_action::ping;
    if (!compressed_ && !pinged_since_read_ && now >= last_read_ + cfg.idle_timeout / 2)
        return quiet_action::ping;
    return quiet_action::none; // the deadline moved (a read, a write) since the wait began
}

void connection::arm_parked_wait()
{
    wake_timer_.expires_at(quiet_deadline());
    wake_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec)
            return; // a new writer started, or the connection is ending
        switch (self->on_quiet()) {
        case quiet_action::drop:
            self->drop_idle();
            return;
        case quiet_action::ping:
            self->ping_due_ = true;
            self->start_writer();
            return;
        case quiet_action::none:
            self->arm_parked_wait();
            return;
        }
    });
}

void connection::drop_idle()
{
    // README "Timeouts": the TCP connection is closed, with no close frame; the reader
    // then fails and the connection ends, leaving the session resumable.
    log::info("ws_idle_timeout", {{"session", log_id()}});
    close_socket();
}

void connection::watch_write()
{
    if (write_watch_armed_)
        return;
    write_watch_armed_ = true;
    auto& timer = write_timer_.get(loop_.executor);
    timer.expires_at(write_started_ + state_.config.idle_timeout);
    timer.async_wait([self = shared_from_this()](error_code ec) { self->on_write_watch(ec); });
}

void connection::stop_write_watch()
{
    // A parked connection writes nothing, so the watch would only hold a timer and a
    // pending wait (and the connection) until it ran out: the next write makes and arms
    // it again, once per reply.
    write_watch_armed_ = false;
    write_timer_.reset();
}

void connection::on_write_watch(error_code ec)
{
    if (ec)
        return; // cancelled by stop_write_watch, which has already disarmed it
    write_watch_armed_ = false;
    if (!writing_)
        return; // idle: the next write arms it again
    if (std::chrono::steady_clock::now() < write_started_ + state_.config.idle_timeout) {
        watch_write(); // a later write than the one this wait was armed for
        return;
    }
    log::info("ws_write_timeout", {{"session", log_id()}});
    // Aborts the pending write; the reader then fails too and the connection ends.
    close_socket();
}

void connection::close_taken_over()
{
    net::post(socket_.get_executor(), [self = shared_from_this()] {
        // The session now belongs to the newer connection.
        self->session_.reset();
        self->request_close(static_cast<websocket::close_code>(4001), "session taken over");
    });
}

void connection::close_for_shutdown()
{
    net::post(socket_.get_executor(), [self = shared_from_this()] {
        self->request_close(websocket::close_code::going_away, "server shutting down");
    });
}

void connection::request_close(websocket::close_code code, std::string_view reason)
{
    if (close_)
        return;
    close_ = std::make_unique<websocket::close_reason>(code, reason);
    notify_writer();
}

void connection::enqueue_error(
    errc code,
    std::string_view message,
    std::string_view id,
    std::optional<std::int64_t> retry_after_ms
)
{
    metrics::global().count_error(code);
    std::string frame;
    protocol::append_error_frame(frame, code, message, id, retry_after_ms);
    enqueue(std::move(frame));
}

void connection::enqueue(std::string frame)
{
    control_.push_back(std::move(frame));
    notify_writer();
}

std::string connection::log_id() const
{
    return session_ ? short_session_id(session_->id()) : std::string("-");
}

} // namespace tokenrelay::ws
