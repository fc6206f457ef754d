#pragma once
// The WebSocket framing under a connection, as one interface with two implementations:
// own_transport (the relay's framing: frame_reader and frame_writer over the bare socket)
// and beast_transport (Beast's stream, with --compression, because only it negotiates
// permessage-deflate). The connection is written once, as templates over this interface,
// and holds one of the two in a std::variant: no heap object and no virtual call, so an
// idle connection costs no more than its framing's own state.
//
// Both answer the client alike (RFC 6455): a message read before a close frame is
// answered before the close; a close is echoed with its code, or answered with 1002 when
// the code is not one a peer may send (section 7.4); after a violation the relay's close
// goes out and the rest of what the client writes is read and discarded until it closes.
//
// What each implementation offers (T below):
//   T::max_unwritten_answers    the reader waits while this many answers are unwritten
//   T::writes_at_once           whether write_now() can take a frame without waiting
//   client_event parse()        the next event in bytes already read: no I/O
//   wait_input() / take_input() a deferred operation that reads more, and its outcome
//   release_message()           the last message is handled: give its memory back
//   keep_unread()               the reader is about to wait: keep what it has not parsed
//   discard_input()             read and drop until the client closes
//   queue_pong(payload)         answer a ping (reported only by a framing that needs it)
//   write_now / complete / write_rest, has_unsent / write_unsent: data frames
//   write_ping(), write_close(code, reason): the rare frames
//   close_socket()

#include <tokenrelay/core/net.hpp>

#include <cstdint>
#include <string_view>

namespace tokenrelay::ws {

/// What the client's bytes read so far amount to, in either framing.
struct client_event
{
    enum class kind : std::uint8_t {
        need_input, ///< everything read is used: read more
        message,    ///< a whole data message: `text`, `data`
        ping,       ///< answer with queue_pong(`data`)
        close,      ///< the client closes with `code`; the reader is done
        fail,       ///< a violation, to close with `code`; then discard_input()
    };
    kind what = kind::need_input;
    bool text = false;
    std::uint16_t code = 0;
    std::string_view data{};
    std::string_view reason{};
};

/// The per-loop read buffer: bytes read and parsed at once, held by no connection.
net::mutable_buffer loop_read_buffer();

/// Reads and drops until the peer closes or the socket fails (a closing connection's
/// reader, bounded by the close handshake's wait).
template <class Socket> awaitable<void> discard_until_closed(Socket& socket)
{
    for (;;) {
        auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
        std::size_t n = 0;
        if (!ec)
            n = socket.read_some(loop_read_buffer(), ec);
        if (ec == net::error::would_block)
            continue;
        if (ec || n == 0)
            co_return;
    }
}

} // namespace tokenrelay::ws
