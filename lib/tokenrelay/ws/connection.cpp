#include <tokenrelay/core/log.hpp>
#include <tokenrelay/ws/connection.hpp>

namespace tokenrelay::ws {

connection::connection(tcp::socket socket, runtime::relay_state& state, runtime::loop_context& loop)
    : messages_(state, loop),
      transport_(make_transport(std::move(socket), state, loop, keepalive_)),
      wake_timer_(loop.executor)
{}

connection::transport_variant connection::make_transport(
    tcp::socket socket,
    runtime::relay_state& state,
    runtime::loop_context& loop,
    keepalive_policy& k
)
{
    // The one place the framing is chosen; the rest of the connection is written once.
    if (state.config.compression)
        return transport_variant(std::in_place_type<beast_transport>, std::move(socket), k);
    return transport_variant(
        std::in_place_type<own_transport>,
        std::move(socket),
        loop.executor,
        state.config.largest_frame_bytes(),
        state.config.max_message_bytes,
        state.large_messages
    );
}

void connection::open(
    const std::optional<resume_request>& resume_from,
    std::string client_ip,
    std::string_view already_read
)
{
    std::visit([&](auto& t) { t.start(already_read); }, transport_);
    keepalive_ = keepalive_policy(std::chrono::steady_clock::now());
    messages_.state().connections.add(shared_from_this());
    messages_.open(shared_from_this(), resume_from, std::move(client_ip));
    // The writer is a coroutine of its own beside the reader, started when there is
    // something to send. Not `||`: its parallel group would cost two more coroutine frames
    // per open connection.
    start_writer();
}

awaitable<void> connection::finish(std::shared_ptr<connection> self)
{
    reader_done_ = true;
    notify_writer();
    // The writer flushes what is due and then ends; the session is detached after that.
    while (!writer_done_) {
        co_await reader_timer_.wait_until_cancelled(messages_.loop().executor);
    }
    stop_write_watch();
    messages_.leave(this);
    messages_.state().connections.remove(self);
    log::debug("ws_closed", {{"session", messages_.log_id()}});
}

void connection::close_socket() noexcept
{
    std::visit([](auto& t) { t.close_socket(); }, transport_);
}

keepalive_config connection::keepalive() const noexcept
{
    const auto& cfg = messages_.state().config;
    return {cfg.ping_interval, cfg.idle_timeout};
}

keepalive_action connection::on_keepalive_deadline()
{
    const auto action = keepalive_.due(keepalive(), std::chrono::steady_clock::now());
    if (action == keepalive_action::drop)
        drop_idle();
    else if (action == keepalive_action::ping)
        ping_due_ = true;
    return action; // none: the deadline moved (a read, a write) since the wait began
}

void connection::arm_parked_wait()
{
    wake_timer_.expires_at(keepalive_.next_deadline(keepalive()));
    wake_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec)
            return; // a new writer started, or the connection is ending
        switch (self->on_keepalive_deadline()) {
        case keepalive_action::drop:
            return;
        case keepalive_action::ping:
            self->start_writer();
            return;
        case keepalive_action::none:
            self->arm_parked_wait();
            return;
        }
    });
}

void connection::drop_idle()
{
    // README "Timeouts": the TCP connection is closed, with no close frame; the reader
    // then fails and the connection ends, leaving the session resumable.
    log::info("ws_idle_timeout", {{"session", messages_.log_id()}});
    close_socket();
}

void connection::begin_write()
{
    keepalive_.on_write(std::chrono::steady_clock::now());
    writing_ = true;
    watch_write();
}

void connection::watch_write()
{
    if (write_watch_armed_)
        return;
    write_watch_armed_ = true;
    auto& timer = write_timer_.get(executor());
    timer.expires_at(keepalive_.last_write() + messages_.state().config.idle_timeout);
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
    const auto timeout = messages_.state().config.idle_timeout;
    if (std::chrono::steady_clock::now() < keepalive_.last_write() + timeout) {
        watch_write(); // a later write than the one this wait was armed for
        return;
    }
    log::info("ws_write_timeout", {{"session", messages_.log_id()}});
    // Aborts the pending write; the reader then fails too and the connection ends.
    close_socket();
}

void connection::evicted(session::eviction why)
{
    net::post(executor(), [self = shared_from_this(), why] {
        // The session has let go of this connection already (section 3).
        self->messages_.forget_session();
        if (why == session::eviction::taken_over)
            self->request_close(4001, "session taken over");
        else
            self->request_close(4002, "too slow");
    });
}

void connection::refused(
    errc code, std::string message, std::string id, std::int64_t retry_after_ms
)
{
    net::post(
        executor(),
        [self = shared_from_this(),
         code,
         message = std::move(message),
         id = std::move(id),
         retry_after_ms] {
            if (self->close_)
                return;
            self->messages_.chat_refused(code, message, id, retry_after_ms);
            self->notify_writer();
        }
    );
}

void connection::close_for_shutdown()
{
    net::post(executor(), [self = shared_from_this()] {
        self->request_close(close_code::going_away, "server shutting down");
    });
}

void connection::request_close(std::uint16_t code, std::string_view reason)
{
    if (close_)
        return;
    close_ = std::make_unique<websocket::close_reason>(
        static_cast<websocket::close_code>(code), beast::string_view(reason.data(), reason.size())
    );
    notify_writer();
}

} // namespace tokenrelay::ws
