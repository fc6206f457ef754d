#pragma once
// A TLS client stream that runs OpenSSL on the socket itself: SSL_read and SSL_write on
// the descriptor (through a socket BIO of our own), with Asio's reactor telling only when
// to try. Asio's ssl::stream runs OpenSSL on a memory BIO pair and moves every record
// through its own buffers and composed operations; per relayed token that was most of the
// relay's user time on an HTTPS upstream (docs/performance.md, "OpenSSL on the socket").
//
// How the reactor is used: each step that may have to wait (the handshake, a read, a write)
// is submitted as a socket receive or send whose buffer is a tls_read_step or
// tls_write_step. Those buffer types have reactor operations of their own (specialised
// below, as core/draining_read_buffer.hpp does) that call OpenSSL instead of recv/send.
// So Asio's speculative first try, its edge-triggered wake-ups and its completion posting
// are exactly those of a plain socket read: no readiness wait (each of which costs an
// epoll_ctl), no second recv that finds nothing. A read that leaves nothing in OpenSSL
// and nothing in the kernel (TCP_INQ, as for draining reads) reports the socket drained,
// so the next read waits for readiness instead of trying first.
//
// Compiled where the draining reads are (Linux, the Boost versions checked: an Asio detail
// class is specialised), unless TOKENRELAY_ASIO_TLS asks for ssl::stream; elsewhere
// connection_pool.hpp uses ssl::stream over tls_transport.

#include <tokenrelay/core/build_config.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/upstream/read_watchdog.hpp>

#if TOKENRELAY_DIRECT_TLS

#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/asio/detail/reactive_socket_send_op.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace tokenrelay::upstream {

class tls_socket_stream;

namespace detail {

/// What a step is: one call of OpenSSL that may need the socket to be readable or writable.
enum class tls_step_kind { handshake, read, write };

/// The buffer of a receive that runs a step when the socket may be readable.
struct tls_read_step : net::mutable_buffer
{
    tls_read_step(tls_socket_stream& s, tls_step_kind k, net::mutable_buffer b) noexcept
        : net::mutable_buffer(b), stream(&s), kind(k)
    {}
    tls_socket_stream* stream;
    tls_step_kind kind;
};

/// The buffer of a send that runs a step when the socket may be writable.
struct tls_write_step : net::mutable_buffer
{
    tls_write_step(tls_socket_stream& s, tls_step_kind k, net::mutable_buffer b) noexcept
        : net::mutable_buffer(b), stream(&s), kind(k)
    {}
    tls_socket_stream* stream;
    tls_step_kind kind;
};

/// What one try of a step came to.
enum class tls_step_status {
    progress,         // done: bytes moved, or the handshake finished
    progress_drained, // done, and neither OpenSSL nor the kernel holds more to read
    want_read,        // try again when the socket is readable
    want_write,       // try again when the socket is writable
    failed,           // ec says why
};

struct tls_step_result
{
    tls_step_status status = tls_step_status::failed;
    std::size_t bytes = 0;
    error_code ec;
};

} // namespace detail

class tls_socket_stream
{
public:
    using executor_type = tcp::socket::executor_type;

    /// A client of `context` (its certificates and verify mode) over a connected socket.
    /// Throws std::bad_alloc when OpenSSL cannot allocate its state.
    tls_socket_stream(tcp::socket socket, ssl::context& context);
    ~tls_socket_stream();
    tls_socket_stream(const tls_socket_stream&) = delete;
    tls_socket_stream& operator=(const tls_socket_stream&) = delete;

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    tcp::socket& socket() noexcept { return socket_; }
    SSL* native_handle() noexcept { return ssl_; }

    /// A deadline for the operations to come, as beast::tcp_stream's expiry: past it they
    /// fail with beast::error::timeout. Held by a read_watchdog, which cancels the
    /// socket's operations; reads of a token stream keep no deadline here (theirs moves
    /// with every token and has a watchdog of its own).
    void expires_at(std::chrono::steady_clock::time_point deadline);
    void expires_after(std::chrono::steady_clock::duration d)
    {
        expires_at(std::chrono::steady_clock::now() + d);
    }
    void expires_never() noexcept { watchdog_.reset(); }

    template <class Token> auto async_handshake(Token&& token)
    {
        return start(
            detail::tls_step_kind::handshake,
            net::mutable_buffer(&dummy_, 1),
            std::forward<Token>(token)
        );
    }

    /// Reads into the first non-empty buffer of `buffers`.
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token)
    {
        return start(
            detail::tls_step_kind::read, first_buffer(buffers), std::forward<Token>(token)
        );
    }

    /// Writes what fits one TLS record. Several small buffers (a request's head and body)
    /// are gathered into one record first: one record, one send.
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token)
    {
        return start(detail::tls_step_kind::write, gather(buffers), std::forward<Token>(token));
    }

    /// Runs one try of a step; called by the reactor operations below, which say whether
    /// they are a receive or a send.
    detail::tls_step_result
    run_step(detail::tls_step_kind kind, net::mutable_buffer b, bool from_receive);

private:
    template <class Token>
    auto start(detail::tls_step_kind kind, net::mutable_buffer b, Token&& token);
    template <class Sequence> static net::mutable_buffer first_buffer(const Sequence& buffers)
    {
        for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
             ++it) {
            const net::const_buffer c(*it);
            if (c.size() != 0)
                return {const_cast<void*>(c.data()), c.size()};
        }
        return {};
    }
    template <class Sequence> net::mutable_buffer gather(const Sequence& buffers)
    {
        const auto first = first_buffer(buffers);
        const auto total = net::buffer_size(buffers);
        if (first.size() == total || first.size() >= record_size)
            return first;
        // SSL_write must be given the same bytes again after a want_write: they stay here
        // until the operation ends.
        gathered_.resize(std::min(total, record_size));
        const auto n = net::buffer_copy(net::buffer(gathered_), buffers);
        return net::buffer(gathered_.data(), n);
    }
    /// The deadline has passed and the socket's operations were cancelled for it.
    bool deadline_passed() const noexcept { return watchdog_ && watchdog_->fired(); }

    template <class Buffer> struct operation;
    struct bio_state
    {
        int fd = -1;
        int last_errno = 0;
        bool kernel_empty = false; // the last receive left nothing in the kernel
    };
    static BIO* make_bio(bio_state& state);
    static int bio_read(BIO* bio, char* out, int size);
    static int bio_write(BIO* bio, const char* in, int size);
    static long bio_ctrl(BIO* bio, int command, long number, void* pointer);

    static constexpr std::size_t record_size = 16 * 1024;

    tcp::socket socket_;
    SSL* ssl_ = nullptr;
    bio_state bio_;
    std::string gathered_;
    std::chrono::steady_clock::time_point deadline_{};
    std::optional<read_watchdog> watchdog_;
    char dummy_ = 0; // the handshake's buffer: Asio completes empty transfers at once
    // What the last step run from a receive (a send) still wants: the reactor operation
    // can report only bytes and an error.
    detail::tls_step_status after_receive_ = detail::tls_step_status::progress;
    detail::tls_step_status after_send_ = detail::tls_step_status::progress;
};

/// One handshake, read or write, from its first try to its end.
template <class Buffer> struct tls_socket_stream::operation
{
    tls_socket_stream& s;
    detail::tls_step_kind kind;
    Buffer buffer;
    enum class stage { first, waiting, posted } at = stage::first;

    template <class Self> void operator()(Self& self, error_code ec = {}, std::size_t n = 0)
    {
        if (at == stage::first) {
            // What ends before any try still completes from the loop, never inside the
            // initiating call.
            if (s.deadline_passed() || buffer.size() == 0) {
                at = stage::posted;
                const auto why =
                    buffer.size() == 0 ? error_code{} : error_code(net::error::operation_aborted);
                return net::post(
                    s.get_executor(), net::append(std::move(self), why, std::size_t{0})
                );
            }
            at = stage::waiting;
            return submit(self, kind == detail::tls_step_kind::read);
        }
        if (ec) {
            if (ec == net::error::operation_aborted && s.deadline_passed())
                ec = beast::error::timeout;
            return self.complete(ec, 0);
        }
        if (at == stage::posted)
            return self.complete(ec, 0);
        // The step ran inside the reactor and left here what it still wants.
        switch (read_last ? s.after_receive_ : s.after_send_) {
        case detail::tls_step_status::want_read:
            return submit(self, true);
        case detail::tls_step_status::want_write:
            return submit(self, false);
        default:
            return self.complete(error_code{}, n);
        }
    }

    bool read_last = false;

    template <class Self> void submit(Self& self, bool read)
    {
        read_last = read;
        if (read)
            s.socket_.async_receive(detail::tls_read_step(s, kind, buffer), 0, std::move(self));
        else
            s.socket_.async_send(detail::tls_write_step(s, kind, buffer), 0, std::move(self));
    }
};

namespace detail {

/// A step's result in the reactor's terms: a step that must wait for the direction it was
/// run from is not done; one that wants the other direction is done for now (the
/// operation then submits it), its want kept in the stream.
inline net::detail::reactor_op::status
reactor_status(const tls_step_result& r, bool from_receive, net::detail::reactor_op& op)
{
    using reactor = net::detail::reactor_op;
    op.ec_ = r.ec;
    op.bytes_transferred_ = r.bytes;
    switch (r.status) {
    case tls_step_status::progress:
        return reactor::done;
    case tls_step_status::progress_drained:
        return from_receive ? reactor::done_and_exhausted : reactor::done;
    case tls_step_status::want_read:
        return from_receive ? reactor::not_done : reactor::done;
    case tls_step_status::want_write:
        return from_receive ? reactor::done : reactor::not_done;
    case tls_step_status::failed:
        break;
    }
    return reactor::done;
}

} // namespace detail

template <class Token>
auto tls_socket_stream::start(detail::tls_step_kind kind, net::mutable_buffer b, Token&& token)
{
    return net::async_compose<Token, void(error_code, std::size_t)>(
        operation<net::mutable_buffer>{*this, kind, b}, token, socket_
    );
}

} // namespace tokenrelay::upstream

namespace boost::asio::detail {

// Asio's socket receive and send operations for the step buffers: they run the TLS step
// where Asio's own would call recv or send, and report in Asio's terms whether it is done
// (and whether the socket is drained) or must wait for the socket.

template <>
class reactive_socket_recv_op_base<tokenrelay::upstream::detail::tls_read_step> : public reactor_op
{
public:
    reactive_socket_recv_op_base(
        const boost::system::error_code& success_ec,
        socket_type,
        socket_ops::state_type,
        const tokenrelay::upstream::detail::tls_read_step& step,
        socket_base::message_flags,
        func_type complete_func
    )
        : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
          step_(step)
    {}

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<reactive_socket_recv_op_base*>(base);
        return tokenrelay::upstream::detail::reactor_status(
            o->step_.stream->run_step(o->step_.kind, o->step_, true), true, *o
        );
    }

private:
    tokenrelay::upstream::detail::tls_read_step step_;
};

template <>
class reactive_socket_send_op_base<tokenrelay::upstream::detail::tls_write_step> : public reactor_op
{
public:
    reactive_socket_send_op_base(
        const boost::system::error_code& success_ec,
        socket_type,
        socket_ops::state_type,
        const tokenrelay::upstream::detail::tls_write_step& step,
        socket_base::message_flags,
        func_type complete_func
    )
        : reactor_op(success_ec, &reactive_socket_send_op_base::do_perform, complete_func),
          step_(step)
    {}

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<reactive_socket_send_op_base*>(base);
        return tokenrelay::upstream::detail::reactor_status(
            o->step_.stream->run_step(o->step_.kind, o->step_, false), false, *o
        );
    }

private:
    tokenrelay::upstream::detail::tls_write_step step_;
};

} // namespace boost::asio::detail

#endif
