#pragma once
// A buffer for reading a TCP socket that trickles, as an upstream token stream does: one
// small packet per token. Asio tries every read at once before waiting for the socket to
// become readable, and stops trying only after a read that found the socket drained; it
// counts only the end of the stream as drained. So each token costs a second recv that
// finds nothing (EAGAIN), in the relay's hottest loop (docs/performance.md, "Draining
// reads": 1.95 -> 0.98 recv calls per relayed token).
//
// A read into a draining_read_buffer asks the kernel, with the data, how much is left
// (Linux's TCP_INQ, which report_unread_bytes turns on). When nothing is, the next read
// waits for readiness instead of trying first. Nothing is missed: the epoll reactor
// registers sockets edge-triggered, and the kernel computes the hint after it has taken
// in what arrived during the read, so data arriving later raises a new readiness event,
// which makes the reactor try again. A short read alone would not do: the peer's FIN or
// reset may already be in, and then no event follows; the kernel counts those as
// something left to read. Without the hint (TCP_INQ off or unknown) reads behave as
// Asio's.
//
// This is done by specialising the reactor's receive operation for this buffer type: an
// Asio detail class, so the specialisation is compiled only for the Boost versions it was
// checked against, on Linux (build_config.hpp's TOKENRELAY_DRAINING_READS; the CMake
// option TOKENRELAY_PORTABLE_READS turns it off). Elsewhere a draining_read_buffer is a
// plain buffer and reads are Asio's own.

#include <tokenrelay/core/build_config.hpp>
#include <tokenrelay/core/net.hpp>

#if TOKENRELAY_DRAINING_READS
#include <boost/asio/detail/reactive_socket_recv_op.hpp>

#include <cerrno>
#include <cstring>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

namespace tokenrelay {

/// Whether reads into a draining_read_buffer skip the empty try (see above).
inline constexpr bool draining_reads_enabled = TOKENRELAY_DRAINING_READS != 0;

#if TOKENRELAY_DRAINING_READS

/// One mutable buffer; read into it with a socket's async_read_some.
class draining_read_buffer : public net::mutable_buffer
{
public:
    explicit draining_read_buffer(net::mutable_buffer b) noexcept : net::mutable_buffer(b) {}
};

/// Asks the kernel to say, with each read into a draining_read_buffer, how many bytes the
/// socket still holds. Failing (an old kernel) leaves reads as Asio's own.
inline void report_unread_bytes(tcp::socket& socket, error_code& ec)
{
    const int on = 1;
    if (::setsockopt(socket.native_handle(), SOL_TCP, TCP_INQ, &on, sizeof on) != 0)
        ec.assign(errno, boost::system::system_category());
    else
        ec = {};
}

/// One recvmsg of `fd` into [data, data + size) that also asks the kernel whether it now
/// holds nothing more (TCP_INQ, turned on by report_unread_bytes): `drained` is set when it
/// said so after a read of at least one byte, false when it did not say. Retried when
/// interrupted; returns what recvmsg returns, with errno set on -1.
inline ssize_t
receive_noting_rest(int fd, void* data, std::size_t size, int flags, bool& drained) noexcept
{
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    for (;;) {
        iovec part{data, size};
        msghdr msg{};
        msg.msg_iov = &part;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const auto n = ::recvmsg(fd, &msg, flags);
        if (n < 0 && errno == EINTR)
            continue;
        drained = false;
        for (auto* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
                int left = 0;
                std::memcpy(&left, CMSG_DATA(c), sizeof left);
                drained = left == 0;
            }
        }
        return n;
    }
}

#else

/// Reads into it are Asio's own.
using draining_read_buffer = net::mutable_buffer;

/// Nothing to ask of the kernel: reads do not use the hint.
inline void report_unread_bytes(tcp::socket&, error_code& ec)
{
    ec = {};
}

#endif

} // namespace tokenrelay

#if TOKENRELAY_DRAINING_READS

namespace boost::asio::detail {

// Asio's own, but for the status of a read that leaves nothing in the socket (see above).
template <> class reactive_socket_recv_op_base<tokenrelay::draining_read_buffer> : public reactor_op
{
public:
    reactive_socket_recv_op_base(
        const boost::system::error_code& success_ec,
        socket_type socket,
        socket_ops::state_type state,
        const tokenrelay::draining_read_buffer& buffer,
        socket_base::message_flags flags,
        func_type complete_func
    )
        : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
          socket_(socket), state_(state), buffer_(buffer), flags_(flags)
    {}

    static status do_perform(reactor_op* base)
    {
        auto* o = static_cast<reactive_socket_recv_op_base*>(base);
        bool drained = false;
        const auto n = tokenrelay::receive_noting_rest(
            o->socket_, o->buffer_.data(), o->buffer_.size(), o->flags_, drained
        );
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return not_done;
            o->ec_.assign(errno, boost::system::system_category());
            o->bytes_transferred_ = 0;
            return done_and_exhausted;
        }
        o->bytes_transferred_ = static_cast<std::size_t>(n);
        if (n == 0 && (o->state_ & socket_ops::stream_oriented) != 0) {
            o->ec_ = boost::asio::error::eof;
            return done_and_exhausted;
        }
        o->ec_ = boost::system::error_code();
        return drained ? done_and_exhausted : done;
    }

private:
    socket_type socket_;
    socket_ops::state_type state_;
    boost::asio::mutable_buffer buffer_;
    socket_base::message_flags flags_;
};

} // namespace boost::asio::detail

#endif
