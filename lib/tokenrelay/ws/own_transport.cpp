#include <tokenrelay/core/log.hpp>
#include <tokenrelay/ws/own_transport.hpp>

#include <boost/beast/core/buffers_to_string.hpp>

namespace tokenrelay::ws {

net::mutable_buffer loop_read_buffer()
{
    // One loop per thread: every connection of the loop reads into this.
    static thread_local std::array<char, 16 * 1024> buffer;
    return net::buffer(buffer);
}

own_transport::own_transport(
    tcp::socket socket,
    const loop_executor& executor,
    std::size_t max_message_bytes,
    std::size_t budget_free_bytes,
    large_message_budget& budget
)
    : socket_(executor), frames_in_(max_message_bytes, budget_free_bytes, budget)
{
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

client_event own_transport::parse()
{
    using kind = read_event::kind;
    while (!in_.empty()) {
        const auto event = frames_in_.next(in_);
        switch (event.what) {
        case kind::need_more:
        case kind::pong: // a ping's answer: that it was read is all that counts
            continue;
        case kind::message: {
            const std::string_view data = frames_in_.message();
            return {client_event::kind::message, frames_in_.message_is_text(), 0, data};
        }
        case kind::ping:
            return {client_event::kind::ping, false, 0, frames_in_.control_payload()};
        case kind::close:
            return {client_event::kind::close, false, event.code, {}, event.reason};
        case kind::fail:
            return {client_event::kind::fail, false, event.code, {}, event.reason};
        }
    }
    // All parsed: an idle connection keeps no copy.
    if (held_ && !held_->unread.empty()) {
        std::string().swap(held_->unread);
        release_held_if_empty();
    }
    return {};
}

error_code own_transport::take_input(std::tuple<error_code> waited)
{
    auto [ec] = waited;
    std::size_t n = 0;
    if (!ec)
        n = socket_.read_some(loop_read_buffer(), ec);
    if (ec == net::error::would_block)
        return {};
    if (!ec)
        in_ = {static_cast<const char*>(loop_read_buffer().data()), n};
    return ec;
}

void own_transport::start(std::string_view already_read)
{
    if (already_read.empty())
        return;
    held().unread.assign(already_read);
    in_ = held_->unread;
}

void own_transport::keep_unread()
{
    // The loop's buffer is another connection's while this reader waits. Bytes kept
    // before are still where they were.
    if (in_.empty() || (held_ && !held_->unread.empty()))
        return;
    held().unread.assign(in_);
    in_ = held_->unread;
}

own_transport::held_bytes& own_transport::held()
{
    if (!held_)
        held_ = std::make_unique<held_bytes>();
    return *held_;
}

void own_transport::release_held_if_empty() noexcept
{
    if (held_ && held_->unread.empty() && held_->unsent.empty())
        held_.reset();
}

void own_transport::queue_pong(std::string_view payload)
{
    // RFC 6455 section 5.5.2: answered with its own payload, through the writer.
    auto& h = held();
    h.unsent += make_frame(opcode::pong, payload);
    ++h.unsent_frames;
}

own_transport::buffer_pair
own_transport::frame_buffers(const frame_header& header, std::string_view payload, std::size_t skip)
{
    buffer_pair rest(std::array<net::const_buffer, 2>{
        net::buffer(header.data(), header.size()), net::buffer(payload)});
    rest.consume(skip);
    return rest;
}

std::size_t own_transport::write_now(std::string_view payload, error_code& ec)
{
    const frame_header header(opcode::text, payload.size());
    const auto n = socket_.write_some(frame_buffers(header, payload, 0), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
        ec = {};
        return 0;
    }
    return n;
}

bool own_transport::write_now_or_keep(std::string_view payload, error_code& ec)
{
    std::size_t n = 0;
    if (!has_unsent()) {
        n = write_now(payload, ec);
        if (ec || complete(payload, n))
            return !ec;
    }
    const frame_header header(opcode::text, payload.size());
    auto& h = held();
    h.unsent += beast::buffers_to_string(frame_buffers(header, payload, n));
    ++h.unsent_frames;
    return false;
}

awaitable<error_code> own_transport::write_unsent()
{
    std::string frames;
    frames.swap(held_->unsent);
    held_->unsent_frames = 0;
    release_held_if_empty();
    co_return co_await write_whole(frames);
}

awaitable<error_code> own_transport::write_ping()
{
    static constexpr std::string_view ping("\x89\x00", 2); // final, empty
    return write_whole(ping);
}

awaitable<error_code> own_transport::write_close(std::uint16_t code, std::string_view reason)
{
    const auto frame = make_frame(opcode::close, close_payload(code, reason));
    auto ec = co_await write_whole(frame);
    if (!ec)
        socket_.shutdown(tcp::socket::shutdown_send, ec);
    co_return ec;
}

awaitable<error_code> own_transport::write_whole(std::string_view frame)
{
    auto [ec, n] = co_await net::async_write(socket_, net::buffer(frame), use_tuple);
    co_return ec;
}

void own_transport::close_socket() noexcept
{
    error_code ignored;
    socket_.close(ignored);
}

} // namespace tokenrelay::ws
