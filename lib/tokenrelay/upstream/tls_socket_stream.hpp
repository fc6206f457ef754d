#pragma once
// A TLS client stream that runs OpenSSL on the socket itself: SSL_read and SSL_write on
// the descriptor (through a socket BIO of our own), with Asio's reactor telling only when
// to try. Asio's ssl::stream runs OpenSSL on a memory BIO pair and moves every record
// through its own buffers and composed operations: per relayed token about 1,300
// instructions and 1 µs of CPU more, and 40 KB more memory per hot stream
// (docs/performance.md, "OpenSSL on the socket").
//
// How the reactor is used: each step that may have to wait (the handshake, a read, a write)
// is submitted as a socket receive or send whose buffer is a tls_step. That buffer type
// has reactor operations of its own (specialised
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
#include <memory>
#include <optional>
#include <string>

namespace tokenrelay::upstream {

class tls_socket_stream;

namespace detail {

/// What a step is: one call of OpenSSL that may need the socket to be readable or writable.
enum class tls_step_kind { handshake, read, write };

/// The buffer of a socket receive or send that runs a step when the socket may be
/// readable or writable.
struct tls_step : net::mutable_buffer
{
    tls_step(tls_socket_stream& s, tls_step_kind k, net::mutable_buffer b) noexcept
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
    /// Whether bytes already taken from the socket wait here, read ahead or in OpenSSL.
    bool holds_input() const noexcept { return bio_.holds_bytes() || SSL_has_pending(ssl_) == 1; }
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

    /// The handler of a step's receives and sends (public for Asio's associator).
    template <class Handler> struct step_handler;

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

    template <class Handler> void submit(step_handler<Handler>&& h, bool read);
    // The socket BIO reads ahead into a buffer of its own: OpenSSL asks for a record's
    // 5-byte header and then its body, two receives per token without it, and OpenSSL's
    // own read-ahead moves its whole buffer on every record (callgrind: about 5,000
    // instructions per token, docs/performance.md).
    struct bio_state
    {
        static constexpr std::size_t capacity = 16 * 1024;
        int fd = -1;
        int last_errno = 0;
        bool kernel_empty = false;     // the last receive left nothing in the kernel
        std::unique_ptr<char[]> ahead; // made at the first read
        std::size_t begin = 0, end = 0;
        bool holds_bytes() const noexcept { return begin != end; }
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

/// One handshake, read or write after its first submission: the handler of each receive
/// or send it makes, until the step is done. It stands for the caller's handler towards
/// Asio (executor, allocator and cancellation slot are the caller's, see the associator
/// below), so the step costs no composed operation of its own: no work guard and no
/// cancellation state per read, which a token read would pay (docs/performance.md).
template <class Handler> struct tls_socket_stream::step_handler
{
    tls_socket_stream* s;
    detail::tls_step_kind kind;
    net::mutable_buffer buffer;
    bool read_last;
    Handler handler;

    void operator()(error_code ec, std::size_t n)
    {
        if (ec) {
            if (ec == net::error::operation_aborted && s->deadline_passed())
                ec = beast::error::timeout;
            return std::move(handler)(ec, std::size_t{0});
        }
        // The step ran inside the reactor and left in the stream what it still wants.
        switch (read_last ? s->after_receive_ : s->after_send_) {
        case detail::tls_step_status::want_read:
            return s->submit(std::move(*this), true);
        case detail::tls_step_status::want_write:
            return s->submit(std::move(*this), false);
        default:
            return std::move(handler)(error_code{}, n);
        }
    }
};

template <class Handler> void tls_socket_stream::submit(step_handler<Handler>&& h, bool read)
{
    h.read_last = read;
    const auto kind = h.kind;
    const auto buffer = h.buffer;
    if (read)
        socket_.async_receive(detail::tls_step(*this, kind, buffer), 0, std::move(h));
    else
        socket_.async_send(detail::tls_step(*this, kind, buffer), 0, std::move(h));
}

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
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [this, kind, b](auto handler) {
            using handler_type = decltype(handler);
            step_handler<handler_type> h{this, kind, b, false, std::move(handler)};
            // What ends before any try still completes from the loop, never inside the
            // initiating call: the deadline already passed, or nothing to transfer.
            if (deadline_passed() || b.size() == 0) {
                const error_code why =
                    b.size() == 0 ? error_code{} : error_code(beast::error::timeout);
                return net::post(
                    get_executor(), net::append(std::move(h.handler), why, std::size_t{0})
                );
            }
            submit(std::move(h), kind == detail::tls_step_kind::read);
        },
        token
    );
}

} // namespace tokenrelay::upstream

namespace boost::asio::detail {

// Asio's socket receive and send operations for the step buffers: they run the TLS step
// where Asio's own would call recv or send, and report in Asio's terms whether it is done
// (and whether the socket is drained) or must wait for the socket.

template <bool FromReceive> class tls_step_op : public reactor_op
{
public:
    tls_step_op(
        const boost::system::error_code& success_ec,
        const tokenrelay::upstream::detail::tls_step& step,
        func_type complete_func
    )
        : reactor_op(success_ec, &tls_step_op::do_perform, complete_func), step_(step)
    {}

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<tls_step_op*>(base);
        return tokenrelay::upstream::detail::reactor_status(
            o->step_.stream->run_step(o->step_.kind, o->step_, FromReceive), FromReceive, *o
        );
    }

private:
    tokenrelay::upstream::detail::tls_step step_;
};

template <>
class reactive_socket_recv_op_base<tokenrelay::upstream::detail::tls_step>
    : public tls_step_op<true>
{
public:
    reactive_socket_recv_op_base(
        const boost::system::error_code& success_ec,
        socket_type,
        socket_ops::state_type,
        const tokenrelay::upstream::detail::tls_step& step,
        socket_base::message_flags,
        func_type complete_func
    )
        : tls_step_op<true>(success_ec, step, complete_func)
    {}
};

template <>
class reactive_socket_send_op_base<tokenrelay::upstream::detail::tls_step>
    : public tls_step_op<false>
{
public:
    reactive_socket_send_op_base(
        const boost::system::error_code& success_ec,
        socket_type,
        socket_ops::state_type,
        const tokenrelay::upstream::detail::tls_step& step,
        socket_base::message_flags,
        func_type complete_func
    )
        : tls_step_op<false>(success_ec, step, complete_func)
    {}
};

} // namespace boost::asio::detail

namespace boost::asio {

// A step handler is its caller's handler towards Asio: the same executor, allocator and
// cancellation slot (how Asio's own binders forward them).
template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct associator<
    Associator,
    tokenrelay::upstream::tls_socket_stream::step_handler<Handler>,
    DefaultCandidate> : Associator<Handler, DefaultCandidate>
{
    static typename Associator<Handler, DefaultCandidate>::type
    get(const tokenrelay::upstream::tls_socket_stream::step_handler<Handler>& h) noexcept
    {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }

    static auto
    get(const tokenrelay::upstream::tls_socket_stream::step_handler<Handler>& h,
        const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c))
    {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};

} // namespace boost::asio

#endif
