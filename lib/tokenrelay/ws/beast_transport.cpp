#include <tokenrelay/ws/beast_transport.hpp>
#include <tokenrelay/ws/frame_reader.hpp>

namespace tokenrelay::ws {
namespace {

// An idle connection always has a read pending, and Beast reserves room in the buffer
// before the first byte arrives: ask for little until a message has started (a ping fits;
// a chat takes one more step), then for more, and give the room back after each message.
constexpr std::size_t idle_read_bytes = 128;
constexpr std::size_t message_read_bytes = 16 * 1024;
// As the own framing's close handshake (connection.cpp): how long Beast waits for the
// client's close after its own.
constexpr auto close_handshake_timeout = std::chrono::seconds(5);

// The close code Beast sent for a violation it reported as `ec`.
std::uint16_t close_code_for(const error_code& ec)
{
    if (ec == websocket::error::message_too_big)
        return close_code::too_big;
    if (ec == websocket::error::bad_frame_payload)
        return close_code::invalid_payload;
    return close_code::protocol_error;
}

// A close frame with no code is allowed too.
bool is_allowed(std::uint16_t code)
{
    return code == websocket::close_code::none || is_valid_close_code(code);
}

} // namespace

void teardown(beast::role_type, beast_socket& socket, error_code& ec)
{
    socket.shutdown(tcp::socket::shutdown_send, ec);
}

beast_transport::beast_transport(tcp::socket socket, keepalive_policy& keepalive)
    : ws_(beast_socket(std::move(socket))), limit_(idle_read_bytes)
{
    // Control frames count as reads for the keep-alive (Beast does not hand them out),
    // and a close code no peer may send gets 1002 rather than its echo.
    ws_.control_callback([this, &keepalive](websocket::frame_type kind, beast::string_view) {
        keepalive.on_read(std::chrono::steady_clock::now());
        if (kind == websocket::frame_type::close && !is_allowed(ws_.reason().code))
            ws_.next_layer().answer_next_close_with_protocol_error();
    });
}

awaitable<bool>
beast_transport::accept(http::request<http::string_body>& request, std::size_t max_message_bytes)
{
    // The keep-alive and idle timeout are the connection's (keepalive_policy), as with
    // the own framing: Beast keeps only its handshake timeout.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.read_message_max(max_message_bytes);
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    ws_.set_option(pmd);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::server, "tokenrelay");
    }));
    auto [accept_ec] = co_await ws_.async_accept(request, use_tuple);
    // The request stays in the caller's frame for the connection's life; its fields need
    // not.
    request = {};
    if (accept_ec)
        co_return false;
    timeouts.handshake_timeout = close_handshake_timeout; // from now on: the close's
    ws_.set_option(timeouts);
    ws_.text(true);
    // One frame per message: Beast would otherwise cut a joined batch into 4 KiB
    // fragments, each its own socket write.
    ws_.auto_fragment(false);
    co_return true;
}

client_event beast_transport::parse()
{
    if (message_ready_) {
        message_ready_ = false;
        const auto data = buffer_.cdata();
        return {
            client_event::kind::message,
            ws_.got_text(),
            0,
            {static_cast<const char*>(data.data()), data.size()}};
    }
    return std::exchange(pending_, client_event{});
}

error_code beast_transport::take_input(std::tuple<error_code, std::size_t> read)
{
    auto [ec, n] = read;
    if (!ec) {
        message_ready_ = ws_.is_message_done();
        limit_ = message_read_bytes;
        return {};
    }
    if (ec == websocket::error::closed) {
        close_sent_ = true;
        const auto code = ws_.reason().code;
        if (!is_allowed(code)) {
            pending_ = {
                client_event::kind::fail,
                false,
                close_code::protocol_error,
                {},
                "invalid close code"};
        } else {
            const auto given = code == websocket::close_code::none ? close_code::no_status : code;
            pending_ = {client_event::kind::close, false, static_cast<std::uint16_t>(given)};
        }
        return {};
    }
    if (ec == websocket::condition::protocol_violation || ec == websocket::error::message_too_big) {
        // Beast has sent its close frame with the code for the violation.
        close_sent_ = true;
        pending_ = {client_event::kind::fail, false, close_code_for(ec), {}, "protocol violation"};
        return {};
    }
    return ec;
}

void beast_transport::release_message()
{
    buffer_.clear();
    if (buffer_.capacity() > idle_read_bytes)
        buffer_.shrink_to_fit();
    limit_ = idle_read_bytes;
}

awaitable<error_code> beast_transport::write_ping()
{
    auto [ec] = co_await ws_.async_ping({}, use_tuple);
    co_return ec;
}

awaitable<error_code> beast_transport::write_close(std::uint16_t code, std::string_view reason)
{
    if (close_sent_)
        co_return error_code{};
    close_sent_ = true;
    // Completes once the client's close has come in answer, or after the handshake
    // timeout set in accept().
    const websocket::close_reason cr(
        static_cast<websocket::close_code>(code), beast::string_view(reason.data(), reason.size())
    );
    auto [ec] = co_await ws_.async_close(cr, use_tuple);
    co_return ec;
}

void beast_transport::close_socket() noexcept
{
    error_code ignored;
    ws_.next_layer().close(ignored);
}

} // namespace tokenrelay::ws
