#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/protocol/server_frame.hpp>
#include <tokenrelay/ws/connection.hpp>

#include <variant>

namespace tokenrelay::ws {
namespace {

// A client that floods pings or bad frames without reading the answers stops being read
// once this many control frames wait (TCP then pushes back on it).
constexpr std::size_t max_pending_control = 64;
// One writer pass sends at most about this much, so control frames are not starved.
constexpr std::size_t max_batch_bytes = 64 * 1024;
// An idle connection always has a read pending, and Beast reserves room in the buffer
// before the first byte arrives: ask for little until a message has started (a ping
// fits; a chat takes one more step), then for more, and give the room back after each
// message.
constexpr std::size_t idle_read_bytes = 128;
constexpr std::size_t message_read_bytes = 16 * 1024;

} // namespace

connection::connection(websocket_stream ws, relay_state& state, loop_context& loop)
    : ws_(std::move(ws)), state_(state), loop_(loop), wake_timer_(ws_.get_executor()),
      write_timer_(ws_.get_executor())
{}

awaitable<void> connection::run(
    std::shared_ptr<connection> self,
    http::request<http::string_body> request,
    std::optional<resume_request> resume_from,
    std::string ip
)
{
    struct reservation
    {
        connection_set& connections;
        const std::string& ip;
        ~reservation() { connections.release(ip); }
    } held{state_.connections, ip};

    const auto& cfg = state_.config;
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = cfg.idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(cfg.max_message_bytes);
    if (cfg.compression) {
        websocket::permessage_deflate pmd;
        pmd.server_enable = true;
        ws_.set_option(pmd);
    }
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::server, "tokenrelay");
    }));
    auto [accept_ec] = co_await ws_.async_accept(request, use_tuple);
    // The request stays in this frame for the connection's life; its fields need not.
    request = {};
    if (accept_ec) {
        log::debug("ws_handshake_failed", {{"error", accept_ec.message()}});
        co_return;
    }
    ws_.text(true);
    // One frame per message: Beast would otherwise cut a joined batch into 4 KiB
    // fragments, each its own socket write.
    ws_.auto_fragment(false);

    state_.connections.add(self);
    if (resume_from)
        resume(*resume_from);
    else
        start_fresh_session();

    // The writer is a coroutine of its own beside this one (the reader), started when
    // there is something to send. Not `||`: its parallel group would cost two more
    // coroutine frames per open connection (issue 7).
    start_writer();
    co_await read_loop();
    // The writer flushes what is due and then ends; the session is detached after that.
    while (!writer_done_) {
        co_await reader_timer_.wait_until_cancelled(loop_.executor);
    }
    write_timer_.cancel();

    if (session_)
        session_->detach(this);
    state_.connections.remove(self);
    log::debug("ws_closed", {{"session", log_id()}});
}

void connection::start_fresh_session()
{
    session_ = state_.sessions.create(loop_.executor, loop_.source, state_.session_settings);
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

awaitable<void> connection::read_loop()
{
    beast::flat_buffer buffer;
    for (;;) {
        while (control_.size() >= max_pending_control && !reader_done_ && !writer_done_) {
            reader_waiting_ = true;
            co_await reader_timer_.wait_until_cancelled(loop_.executor);
            reader_waiting_ = false;
        }
        if (writer_done_) {
            reader_done_ = true;
            co_return;
        }
        buffer.clear();
        if (buffer.capacity() > idle_read_bytes)
            buffer.shrink_to_fit();
        // One whole message, read in steps: little room until it has started.
        std::size_t limit = idle_read_bytes;
        error_code ec;
        do {
            auto [read_ec, n] = co_await ws_.async_read_some(buffer, limit, use_tuple);
            ec = read_ec;
            limit = message_read_bytes;
        } while (!ec && !ws_.is_message_done());
        if (ec) {
            // Beast has already answered protocol violations with their close codes
            // (1007 invalid UTF-8, 1009 too big, 1002 protocol error).
            reader_done_ = true;
            notify_writer();
            log::debug("ws_read_end", {{"session", log_id()}, {"error", ec.message()}});
            co_return;
        }
        if (close_)
            continue; // closing: drain until the peer's close frame arrives
        if (!ws_.got_text()) {
            request_close(websocket::close_code::unknown_data, "binary frames are not supported");
            continue;
        }
        const auto data = buffer.cdata();
        handle_text({static_cast<const char*>(data.data()), data.size()});
    }
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
    net::post(ws_.get_executor(), [self = shared_from_this()] {
        net::co_spawn(
            self->ws_.get_executor(),
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

awaitable<bool> connection::write_loop(std::shared_ptr<connection> self)
{
    protocol::frame_batch frames;
    for (;;) {
        wake_pending_.store(false, std::memory_order_release);
        frames.clear();
        for (auto& frame : control_)
            frames.push(std::move(frame));
        control_.clear();
        if (reader_waiting_)
            reader_timer_.cancel();
        // Once closing, only a shutdown still flushes the session (its generation has
        // been stopped, so the log is finite); other closes must not wait on a stream.
        bool generating = false;
        if (session_ && (!close_ || close_->code == websocket::close_code::going_away))
            generating = session_->collect(this, max_batch_bytes, frames);
        if (frames.empty()) {
            if (close_) {
                co_await ws_.async_close(*close_, use_tuple);
                co_return true;
            }
            if (reader_done_)
                co_return true;
            // Section 5: ping a connection that has been quiet for --ping-interval.
            if (std::exchange(ping_due_, false)) {
                auto [ping_ec] = co_await ws_.async_ping({}, use_tuple);
                if (ping_ec)
                    co_return true;
                continue;
            }
            // Nothing to send: an idle connection keeps little memory (issue 7).
            frames.release();
            wake_timer_.expires_after(state_.config.ping_interval);
            if (!generating) {
                // Nothing more is coming until the client or the session asks: park.
                // This coroutine ends and a timer wait holds the ping; anything to send
                // from now on starts a new writer, as this one no longer runs. Nothing
                // ran since the collect above, so nothing was missed.
                writer_running_ = false;
                wake_timer_.async_wait([self](error_code ec) {
                    if (ec)
                        return; // a new writer started, or the connection is ending
                    self->ping_due_ = true;
                    self->start_writer();
                });
                co_return false;
            }
            // A reply is streaming: wait here for its next frames.
            auto wait = with_op_memory(wake_timer_.async_wait(deferred_tuple));
            auto [ec] = co_await std::move(wait);
            if (!ec)
                ping_due_ = true;
            continue;
        }
        ping_due_ = false; // frames going out make the connection not quiet
        auto& m = metrics::global();
        for (const auto& f : frames) {
            write_started_ = std::chrono::steady_clock::now();
            writing_ = true;
            watch_write();
            auto write = with_op_memory(ws_.async_write(net::buffer(f), deferred_tuple));
            auto [ec, n] = co_await std::move(write);
            writing_ = false;
            if (ec)
                co_return true;
            m.frames_sent.fetch_add(1, std::memory_order_relaxed);
            m.bytes_sent.fetch_add(n, std::memory_order_relaxed);
        }
    }
}

void connection::on_writer_done(std::exception_ptr e)
{
    writer_done_ = true;
    reader_timer_.cancel();
    if (!reader_done_) {
        // The close handshake is over or the socket failed: either way the reader has
        // nothing more to read, and a pending read would otherwise wait for the peer.
        error_code ignored;
        ws_.next_layer().close(ignored);
    }
    log::connection_failure(e);
}

void connection::wake()
{
    if (wake_pending_.exchange(true, std::memory_order_acq_rel))
        return;
    // Called for every token. The session usually lives on this connection's loop, and
    // then the writer is woken directly rather than through one more posted handler.
    const auto loop = loop_executor_of(ws_.get_executor());
    if (loop && loop->running_in_this_thread())
        notify_writer();
    else
        net::post(ws_.get_executor(), [self = shared_from_this()] { self->notify_writer(); });
}

void connection::watch_write()
{
    if (write_watch_armed_)
        return;
    write_watch_armed_ = true;
    write_timer_.expires_at(write_started_ + state_.config.idle_timeout);
    write_timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_write_watch(ec); }
    );
}

void connection::on_write_watch(error_code ec)
{
    write_watch_armed_ = false;
    if (ec || !writing_)
        return; // cancelled at the end, or idle: the next write arms it again
    if (std::chrono::steady_clock::now() < write_started_ + state_.config.idle_timeout) {
        watch_write(); // a later write than the one this wait was armed for
        return;
    }
    log::info("ws_write_timeout", {{"session", log_id()}});
    // Aborts the pending write; the reader then fails too and the connection ends.
    error_code ignored;
    ws_.next_layer().close(ignored);
}

void connection::close_taken_over()
{
    net::post(ws_.get_executor(), [self = shared_from_this()] {
        // The session now belongs to the newer connection.
        self->session_.reset();
        self->request_close(static_cast<websocket::close_code>(4001), "session taken over");
    });
}

void connection::close_for_shutdown()
{
    net::post(ws_.get_executor(), [self = shared_from_this()] {
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
