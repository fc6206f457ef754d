#pragma once
// The relay's own WebSocket framing over the bare socket (transport.hpp's interface). An
// idle connection holds no read buffer: the reader waits for readability and reads into
// the loop's buffer; what a read leaves unparsed is copied out only when the reader must
// wait. A data frame goes out as one gathered write of header and payload, tried at once
// on the non-blocking socket; what the socket does not take is awaited, or kept (framed)
// ahead of anything later when the writer is not the one writing.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/ws/frame_reader.hpp>
#include <tokenrelay/ws/frame_writer.hpp>
#include <tokenrelay/ws/transport.hpp>

#include <boost/beast/core/buffers_suffix.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tokenrelay::ws {

class own_transport
{
public:
    // A client that floods pings or bad frames without reading the answers stops being
    // read once this many answers wait (TCP then pushes back on it).
    static constexpr std::size_t max_unwritten_answers = 64;
    static constexpr bool writes_at_once = true;

    /// Messages up to `max_message_bytes`; past `budget_free_bytes` only with room in
    /// `budget` (large_message_budget.hpp).
    own_transport(
        tcp::socket socket,
        const loop_executor& executor,
        std::size_t max_message_bytes,
        std::size_t budget_free_bytes,
        large_message_budget& budget
    );

    /// Bytes that came with the upgrade request: the client's first frames.
    void start(std::string_view already_read);

    client_event parse();
    auto wait_input()
    {
        return with_op_memory(socket_.async_wait(tcp::socket::wait_read, deferred_tuple));
    }
    error_code take_input(std::tuple<error_code> waited);
    void release_message() { frames_in_.release_message(); }
    void keep_unread();
    awaitable<void> discard_input() { return discard_until_closed(socket_); }

    void queue_pong(std::string_view payload);
    std::size_t unwritten_answers() const noexcept { return held_ ? held_->unsent_frames : 0; }

    /// As much of a text frame as the socket takes now; bytes of header and payload.
    std::size_t write_now(std::string_view payload, error_code& ec);
    static bool complete(std::string_view payload, std::size_t taken) noexcept
    {
        return taken == frame_header(opcode::text, payload.size()).size() + payload.size();
    }
    auto write_rest(std::string_view payload, std::size_t taken)
    {
        rest_header_ = frame_header(opcode::text, payload.size());
        const auto rest = frame_buffers(rest_header_, payload, taken);
        return with_op_memory(net::async_write(socket_, rest, deferred_tuple));
    }
    /// Writes what the socket takes now, keeping the rest (and then every later frame,
    /// whole) for write_unsent; false once something is kept or the socket failed.
    bool write_now_or_keep(std::string_view payload, error_code& ec);
    bool has_unsent() const noexcept { return held_ && !held_->unsent.empty(); }
    awaitable<error_code> write_unsent();

    awaitable<error_code> write_ping();
    /// The close frame, then no more: the client answers with its own and closes.
    awaitable<error_code> write_close(std::uint16_t code, std::string_view reason);
    void close_socket() noexcept;

private:
    using buffer_pair = beast::buffers_suffix<std::array<net::const_buffer, 2>>;
    /// A frame's header and payload from byte `skip` on, as one gathered buffer
    /// sequence: a frame goes out in one write, and the payload is not copied.
    static buffer_pair
    frame_buffers(const frame_header& header, std::string_view payload, std::size_t skip);
    awaitable<error_code> write_whole(std::string_view frame);
    /// Bytes held past a read or a write: rare, so made only when needed.
    struct held_bytes
    {
        std::string unread; // what in_ views while the reader waits; empty otherwise
        std::string unsent; // whole frames (or a frame's rest) for the writer to write first
        std::uint32_t unsent_frames = 0;
    };
    held_bytes& held();
    void release_held_if_empty() noexcept;

    loop_socket socket_;
    frame_reader frames_in_;
    frame_header rest_header_{opcode::text, 0}; // the header write_rest's write points to
    std::string_view in_; // read, not yet parsed: in the loop's buffer or held_->unread
    std::unique_ptr<held_bytes> held_;
};

} // namespace tokenrelay::ws
