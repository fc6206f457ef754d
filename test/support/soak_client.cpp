#include "support/soak_client.hpp"

#include "support/test_key.hpp"
#include "support/time_scale.hpp"

namespace tokenrelay::test {

namespace json = boost::json;

soak_connection::soak_connection(
    net::any_io_executor executor, std::uint16_t port, std::chrono::milliseconds timeout
)
    : port_(port), timeout_(scaled(timeout)), ws_(std::move(executor))
{
    ws_.read_message_max(16 * 1024 * 1024);
}

// The deadline lives on the TCP layer and is re-armed before every operation, so a
// relay that stops answering fails this client after `timeout_` instead of hanging.
void soak_connection::arm()
{
    beast::get_lowest_layer(ws_).expires_after(timeout_);
}

awaitable<void> soak_connection::open(std::string target)
{
    arm();
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port_);
    if (auto [ec] = co_await beast::get_lowest_layer(ws_).async_connect(ep, use_tuple); ec)
        throw soak_failure("connect: " + ec.message());
    arm();
    auto [ec] =
        co_await ws_.async_handshake("127.0.0.1:" + std::to_string(port_), target, use_tuple);
    if (ec)
        throw soak_failure("upgrade on " + target + ": " + ec.message());
    ws_.text(true);
}

awaitable<json::object> soak_connection::read()
{
    buffer_.clear();
    arm();
    auto [ec, n] = co_await ws_.async_read(buffer_, use_tuple);
    if (ec == websocket::error::closed)
        throw soak_failure(
            "the relay closed the WebSocket with " + std::to_string(ws_.reason().code)
        );
    if (ec)
        throw soak_failure("read: " + ec.message());
    const auto text = beast::buffers_to_string(buffer_.data());
    if (!ws_.got_text())
        throw soak_failure("binary frame from the relay");
    // PROTOCOL.md section 1: the upstream key never reaches a client.
    if (text.find(test_api_key) != std::string::npos ||
        text.find("SECRET-key") != std::string::npos)
        throw soak_failure("the upstream key in a frame: " + text);
    error_code pec;
    auto v = json::parse(text, pec);
    if (pec || !v.is_object() || !string_field(v.as_object(), "type"))
        throw soak_failure("not a JSON object with a type: " + text);
    co_return std::move(v.as_object());
}

awaitable<void> soak_connection::send(const json::object& frame)
{
    co_await send_text(json::serialize(frame));
}

awaitable<void> soak_connection::send_text(std::string_view text)
{
    arm();
    auto [ec, n] = co_await ws_.async_write(net::buffer(text), use_tuple);
    if (ec)
        throw soak_failure("write: " + ec.message());
}

awaitable<void> soak_connection::close()
{
    arm();
    auto [ec] = co_await ws_.async_close(websocket::close_code::normal, use_tuple);
    if (ec)
        throw soak_failure("close: " + ec.message());
}

void soak_connection::drop()
{
    error_code ignored;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

std::optional<std::string_view> string_field(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string())
        return std::nullopt;
    return std::string_view(v->as_string());
}

std::optional<std::int64_t> int_field(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (v && v->is_int64())
        return v->as_int64();
    if (v && v->is_uint64())
        return static_cast<std::int64_t>(v->as_uint64());
    return std::nullopt;
}

} // namespace tokenrelay::test
