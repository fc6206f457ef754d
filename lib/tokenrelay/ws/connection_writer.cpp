// The connection's one write path, written once over either framing (transport.hpp): the
// writer coroutine, and the wake that writes a streaming reply's frames itself while the
// writer waits for them. Both take the session's frames through collect() and write each
// as the framing's gathered write.
#include <tokenrelay/core/build_config.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/ws/connection.hpp>

namespace tokenrelay::ws {
namespace {

// One writer pass sends at most about this much, so answers are not starved.
constexpr std::size_t max_batch_bytes = 64 * 1024;
// How long a closing connection waits for the client's half of the close handshake.
constexpr auto close_handshake_timeout = std::chrono::seconds(5);

} // namespace

void connection::start_writer()
{
    if (writer_running_ || writer_done_)
        return;
    writer_running_ = true;
    wake_timer_.cancel(); // a parked writer's keep-alive wait: the new writer pings when due
    // From a posted handler: co_spawn would run the writer's first pass right here, inside
    // whatever asked for it (a session attaching, before its session frame is queued).
    net::post(executor(), [self = shared_from_this()] {
        std::visit(
            [&](auto& t) {
                net::co_spawn(
                    self->executor(),
                    self->write_loop(t, self),
                    [self](std::exception_ptr e, bool finished) {
                        if (e || finished)
                            self->on_writer_done(std::move(e));
                    }
                );
            },
            self->transport_
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

bool connection::collect(protocol::frame_batch& frames)
{
    // Once closing, only a shutdown still flushes the session (its generation has been
    // stopped, so the log is finite); other closes must not wait on a stream.
    if (close_ && close_->code != websocket::close_code::going_away)
        return false;
    return messages_.collect(this, max_batch_bytes, frames);
}

void connection::count_sent(std::size_t bytes)
{
    auto& m = metrics::global();
    m.frames_sent.fetch_add(1, std::memory_order_relaxed);
    m.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
}

// `self` is unused but for keeping the connection alive while this runs.
template <class T>
awaitable<bool> connection::write_loop(T& t, [[maybe_unused]] std::shared_ptr<connection> self)
{
    protocol::frame_batch frames;
    for (;;) {
        wake_pending_.store(false, std::memory_order_release);
        frames.clear();
        for (auto& answer : messages_.answers())
            frames.push(std::move(answer));
        messages_.answers().clear();
        answers_in_flight_ = !frames.empty() || t.has_unsent();
        const bool generating = collect(frames);
        if (frames.empty() && !t.has_unsent()) {
            wake_reader();
            if (close_) {
                co_await close_handshake(t);
                co_return true;
            }
            if (reader_done_)
                co_return true;
            // Section 5: a quiet connection is pinged (keepalive_policy).
            if (std::exchange(ping_due_, false)) {
                const auto ec = co_await send_ping(t);
                if (ec)
                    co_return true;
                continue;
            }
            if (!generating) {
                // Nothing more is coming until the client or the session asks: park.
                // This coroutine ends and a timer wait holds the keep-alive deadline;
                // anything to send from now on starts a new writer. Nothing ran since the
                // collect above, so nothing was missed. An idle connection keeps no buffer.
                std::vector<std::string>().swap(messages_.answers());
                writer_running_ = false;
                stop_write_watch();
                arm_parked_wait();
                co_return false;
            }
            // A reply is streaming: wait here for its next frames, keeping little memory
            // meanwhile (a joined batch may have grown a large buffer).
            frames.release();
            wake_timer_.expires_at(keepalive_.next_deadline(keepalive()));
            auto wait = with_op_memory(wake_timer_.async_wait(deferred_tuple));
            awaiting_stream_ = true;
            auto [ec] = co_await std::move(wait);
            awaiting_stream_ = false;
            if (!ec)
                on_keepalive_deadline();
            continue;
        }
        ping_due_ = false; // frames going out make the connection not quiet
        if (t.has_unsent()) {
            begin_write();
            const auto ec = co_await t.write_unsent();
            writing_ = false;
            if (ec)
                co_return true;
        }
        for (const auto& f : frames) {
            begin_write();
            // Tried at once where the framing can (the send buffer nearly always has room
            // for a frame: no reactor operation, no posted completion, no resumption);
            // only what the socket did not take is awaited.
            error_code ec;
            const auto taken = t.write_now(f, ec);
            if (!ec && !t.complete(f, taken)) {
                auto rest = t.write_rest(f, taken);
                auto [rest_ec, n] = co_await std::move(rest);
                ec = rest_ec;
            }
            writing_ = false;
            if (ec)
                co_return true;
            count_sent(f.size());
        }
        answers_in_flight_ = false;
        wake_reader();
    }
}

template <class T> awaitable<error_code> connection::send_ping(T& t)
{
    begin_write();
    keepalive_.on_ping(keepalive_.last_write());
    const auto ec = co_await t.write_ping();
    writing_ = false;
    co_return ec;
}

template <class T> awaitable<void> connection::close_handshake(T& t)
{
    begin_write();
    const auto reason = std::string_view(close_->reason.data(), close_->reason.size());
    const auto ec = co_await t.write_close(static_cast<std::uint16_t>(close_->code), reason);
    writing_ = false;
    if (ec)
        co_return;
    const auto deadline = std::chrono::steady_clock::now() + close_handshake_timeout;
    while (!reader_done_ && std::chrono::steady_clock::now() < deadline) {
        wake_timer_.expires_at(deadline);
        co_await wake_timer_.async_wait(use_tuple);
    }
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
    if (executor().running_in_this_thread()) {
        const bool written = std::visit([this](auto& t) { return write_from_wake(t); }, transport_);
        if (!written)
            notify_writer();
    } else {
        net::post(executor(), [self = shared_from_this()] { self->notify_writer(); });
    }
}

template <class T> bool connection::write_from_wake(T& t)
{
    // A writer waiting for a streaming reply's next frames would be woken, collect them,
    // write them and wait again: a posted completion, a coroutine resumption and a timer
    // re-armed for every token (docs/performance.md, "Frames written from the wake").
    // When nothing else waits to go out, the same frames are collected and written here
    // and the writer waits on. Whatever the socket does not take at once is kept by the
    // framing, ahead of anything later, for the writer.
    if constexpr (!TOKENRELAY_WRITE_FROM_WAKE || !T::writes_at_once) {
        return false;
    } else {
        if (!awaiting_stream_ || close_ || ping_due_ || !messages_.answers().empty() ||
            t.has_unsent())
            return false;
        // Per loop thread, not per connection: an idle connection keeps no frame buffer.
        static thread_local protocol::frame_batch frames;
        frames.clear();
        wake_pending_.store(false, std::memory_order_release);
        const bool generating = collect(frames);
        if (frames.empty())
            return generating;
        keepalive_.on_write(std::chrono::steady_clock::now());
        for (const auto& f : frames) {
            error_code ec;
            t.write_now_or_keep(f, ec);
            if (ec) {
                close_socket(); // as a failed write in the writer: the connection is over
                return true;
            }
            count_sent(f.size()); // counted here, written or kept
        }
        // The writer finishes a partial write, and parks once the reply is over.
        return generating && !t.has_unsent();
    }
}

} // namespace tokenrelay::ws
