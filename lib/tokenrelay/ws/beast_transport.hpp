#pragma once
// Beast's WebSocket stream as a transport (transport.hpp's interface), for --compression:
// only Beast negotiates permessage-deflate. Beast answers pings and close frames inside
// its reads; three things are arranged so that it answers as the relay's own framing does:
// - the reader reads on only once every answer is written (max_unwritten_answers), so a
//   message that came in the same TCP write as a close frame is answered before Beast's
//   echo of the close;
// - a close code Beast accepts but RFC 6455 section 7.4 does not let a peer send (5000 and
//   up) is answered with 1002 rather than echoed (beast_socket rewrites the echo);
// - Beast's teardown after its close frame (which reads once and closes, resetting a
//   client still writing) is replaced by a shutdown of the sending side: the reader then
//   reads and discards until the client closes, as with the own framing.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/ws/keepalive_policy.hpp>
#include <tokenrelay/ws/transport.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace tokenrelay::ws {

/// The socket under Beast's stream: the relay's own teardown (below), and the close-code
/// check on the echo of a client's close.
class beast_socket : public tcp::socket
{
public:
    explicit beast_socket(tcp::socket&& socket) : tcp::socket(std::move(socket)) {}

    /// The next close frame Beast writes answers a close code no peer may send: 1002.
    void answer_next_close_with_protocol_error() noexcept { rewrite_close_ = true; }

    template <class ConstBuffers, class Handler>
    void async_write_some(const ConstBuffers& buffers, Handler&& handler)
    {
        const net::const_buffer first = *net::buffer_sequence_begin(buffers);
        if (rewrite_close_ && is_close_echo(first)) {
            rewrite_close_ = false;
            close_ = {'\x88', '\x02', '\x03', '\xEA'}; // 1002
            tcp::socket::async_write_some(net::buffer(close_), std::forward<Handler>(handler));
            return;
        }
        tcp::socket::async_write_some(buffers, std::forward<Handler>(handler));
    }

private:
    static bool is_close_echo(net::const_buffer b) noexcept
    {
        const auto* p = static_cast<const unsigned char*>(b.data());
        return b.size() == 4 && p[0] == 0x88 && p[1] == 0x02;
    }

    std::array<char, 4> close_{};
    bool rewrite_close_ = false;
};

/// Found by Beast through argument-dependent lookup: after its close frame the sending
/// side is shut down and nothing read; the connection's reader reads on to the client's
/// close.
void teardown(beast::role_type role, beast_socket& socket, error_code& ec);

template <class Handler>
void async_teardown(beast::role_type, beast_socket& socket, Handler&& handler)
{
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    net::post(
        socket.get_executor(),
        beast::bind_front_handler(std::forward<Handler>(handler), error_code{})
    );
}

class beast_transport
{
public:
    // Beast answers a close inside its read: every answer must be out before it reads on.
    static constexpr std::size_t max_unwritten_answers = 1;
    static constexpr bool writes_at_once = false;

    beast_transport(tcp::socket socket, keepalive_policy& keepalive);

    /// Beast's handshake for `request`; false if the connection is not a WebSocket after
    /// all. The request's fields are released.
    awaitable<bool>
    accept(http::request<http::string_body>& request, std::size_t max_message_bytes);

    void start(std::string_view) noexcept {} // Beast read the request's bytes itself
    client_event parse();
    auto wait_input()
    {
        return with_op_memory(ws_.async_read_some(buffer_, limit_, deferred_tuple));
    }
    error_code take_input(std::tuple<error_code, std::size_t> read);
    void release_message();
    void keep_unread() noexcept {}
    awaitable<void> discard_input() { return discard_until_closed(ws_.next_layer()); }

    void queue_pong(std::string_view) noexcept {} // Beast answers pings itself
    std::size_t unwritten_answers() const noexcept { return 0; }

    std::size_t write_now(std::string_view, error_code&) noexcept { return 0; }
    static bool complete(std::string_view, std::size_t) noexcept { return false; }
    auto write_rest(std::string_view payload, std::size_t)
    {
        return with_op_memory(ws_.async_write(net::buffer(payload), deferred_tuple));
    }
    bool write_now_or_keep(std::string_view, error_code&) noexcept { return false; }
    bool has_unsent() const noexcept { return false; }
    awaitable<error_code> write_unsent() { co_return error_code{}; }

    awaitable<error_code> write_ping();
    awaitable<error_code> write_close(std::uint16_t code, std::string_view reason);
    void close_socket() noexcept;

private:
    websocket::stream<beast_socket> ws_;
    beast::flat_buffer buffer_;
    std::size_t limit_;
    client_event pending_{}; // a close or failure Beast reported, not yet parsed
    bool message_ready_ = false;
    bool close_sent_ = false; // Beast has sent its close frame (an echo or a failure's)
};

} // namespace tokenrelay::ws
