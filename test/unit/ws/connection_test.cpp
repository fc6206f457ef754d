// ws::connection over a real socket pair, with either framing (own, and Beast's for
// --compression): a chat streams its tokens in order, a ping frame and a ping message are
// answered, a malformed message gets an error frame, a protocol violation a close with
// its code, the close handshake echoes the client's code, and a silent client is pinged
// and then dropped. The client side is raw bytes (support/raw_socket.hpp's frame helpers).
#include <tokenrelay/upstream/demo_source.hpp>
#include <tokenrelay/ws/connection.hpp>

#include <boost/json.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <support/raw_socket.hpp>
#include <support/run_coro.hpp>
#include <support/socket_pair.hpp>

namespace tokenrelay::ws {
namespace {

namespace bdata = boost::unit_test::data;
namespace json = boost::json;
using namespace std::chrono_literals;
using test::ws_frame;
using test::ws_opcode;

const std::vector<bool> compression{false, true};
const std::string ip = "127.0.0.1";

config::relay_config config_with(bool compressed, std::chrono::milliseconds idle_timeout)
{
    config::relay_config c;
    c.compression = compressed;
    c.idle_timeout = idle_timeout;
    return c;
}

/// One connection, the relay's side served on `ioc`, the client's side raw.
struct served_connection
{
    explicit served_connection(bool compressed, std::chrono::milliseconds idle_timeout = 300s)
        : state(config_with(compressed, idle_timeout)),
          source(ioc.get_executor(), 0ms), loop{ioc.get_executor(), source}, pair(ioc)
    {
        BOOST_REQUIRE(
            state.connections.try_reserve(ip, 10, 10) == runtime::reserve_result::reserved
        );
        if (compressed) {
            // Beast's handshake, for a request read first as http_session reads it.
            net::write(pair.near, net::buffer(test::ws_upgrade_request("/ws", 1)));
            http::request<http::string_body> request;
            beast::flat_buffer buffer;
            http::read(pair.far, buffer, request);
            auto conn = std::make_shared<connection>(std::move(pair.far), state, loop);
            net::co_spawn(
                ioc,
                conn->serve_compressed(conn, std::move(request), std::nullopt, ip),
                net::detached
            );
            while (in.find("\r\n\r\n") == std::string::npos)
                BOOST_REQUIRE(fill());
            BOOST_REQUIRE(in.starts_with("HTTP/1.1 101"));
            in.erase(0, in.find("\r\n\r\n") + 4);
        } else {
            auto conn = std::make_shared<connection>(std::move(pair.far), state, loop);
            conn->open(std::nullopt, ip);
            net::co_spawn(ioc, conn->serve(conn, ip), net::detached);
        }
        const auto session = read_frame();
        BOOST_REQUIRE(session.has_value());
        BOOST_REQUIRE_MESSAGE(
            session->payload.find(R"("type":"session")") != std::string::npos,
            int(session->opcode) << " " << session->payload
        );
    }

    // The client leaves; the connection ends before the loop and the state go.
    ~served_connection()
    {
        error_code ignored;
        pair.near.close(ignored);
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (state.connections.size() > 0 && std::chrono::steady_clock::now() < deadline)
            ioc.run_one_for(100ms);
    }

    void send(ws_opcode op, std::string_view payload)
    {
        net::write(pair.near, net::buffer(test::ws_client_frame(op, payload)));
    }

    /// Reads more from the relay; false when it closed the connection.
    bool fill() { return test::run_coro(ioc, fill_once(), 10s); }
    awaitable<bool> fill_once()
    {
        char buffer[4096];
        auto [ec, n] = co_await pair.near.async_read_some(net::buffer(buffer), use_tuple);
        in.append(buffer, n);
        co_return !ec;
    }

    /// The next frame, or nothing once the relay closed the connection.
    std::optional<ws_frame> read_frame()
    {
        for (;;) {
            if (auto f = test::take_ws_frame(in))
                return f;
            if (!fill())
                return std::nullopt;
        }
    }

    /// The next frame that is not a keep-alive ping.
    json::object read_message()
    {
        for (;;) {
            auto f = read_frame();
            BOOST_REQUIRE(f.has_value());
            if (f->opcode == ws_opcode::text)
                return json::parse(f->payload).as_object();
        }
    }

    net::io_context ioc;
    runtime::relay_state state;
    upstream::demo_source source;
    runtime::loop_context loop;
    test::socket_pair pair;
    std::string in;
};

BOOST_AUTO_TEST_SUITE(connection_suite)

BOOST_DATA_TEST_CASE(a_chat_streams_its_tokens_in_order, bdata::make(compression), compressed)
{
    served_connection c(compressed);
    c.send(ws_opcode::text, R"({"type":"chat","content":"hello"})");
    std::string text;
    std::int64_t last_seq = 0;
    for (;;) {
        const auto m = c.read_message();
        const auto type = m.at("type").as_string();
        if (type == "token") {
            const auto seq = m.at("seq").as_int64();
            BOOST_TEST(seq > last_seq);
            last_seq = seq;
            text += m.at("content").as_string().c_str();
        }
        if (type == "stream_end" || type == "error")
            break;
    }
    chat_request request;
    request.messages.push_back({"user", "hello"});
    BOOST_TEST(text == upstream::demo_source::reply_for(request));
}

BOOST_DATA_TEST_CASE(pings_are_answered, bdata::make(compression), compressed)
{
    served_connection c(compressed);
    c.send(ws_opcode::ping, "are you there");
    const auto pong = c.read_frame();
    BOOST_REQUIRE(pong.has_value());
    BOOST_TEST((pong->opcode == ws_opcode::pong));
    BOOST_TEST(pong->payload == "are you there");

    c.send(ws_opcode::text, R"({"type":"ping","timestamp":42})");
    const auto m = c.read_message();
    BOOST_TEST(m.at("type").as_string() == "pong");
    BOOST_TEST(m.at("client_timestamp").as_int64() == 42);
}

BOOST_DATA_TEST_CASE(a_malformed_message_gets_an_error_frame, bdata::make(compression), compressed)
{
    served_connection c(compressed);
    c.send(ws_opcode::text, "not json");
    const auto m = c.read_message();
    BOOST_TEST(m.at("type").as_string() == "error");
    BOOST_TEST(m.at("code").as_string() == "bad_json");
    // The connection stays open.
    c.send(ws_opcode::text, R"({"type":"ping","timestamp":1})");
    BOOST_TEST(c.read_message().at("type").as_string() == "pong");
}

BOOST_DATA_TEST_CASE(a_binary_message_closes_with_1003, bdata::make(compression), compressed)
{
    served_connection c(compressed);
    c.send(ws_opcode::binary, "x");
    const auto f = c.read_frame();
    BOOST_REQUIRE(f.has_value());
    BOOST_TEST(f->close_code() == 1003);
}

BOOST_DATA_TEST_CASE(the_close_handshake_echoes_the_code, bdata::make(compression), compressed)
{
    served_connection c(compressed);
    std::string payload{'\x0F', '\xA0'}; // 4000
    c.send(ws_opcode::close, payload);
    const auto f = c.read_frame();
    BOOST_REQUIRE(f.has_value());
    BOOST_TEST((f->opcode == ws_opcode::close));
    BOOST_TEST(f->close_code() == 4000);
    BOOST_TEST(!c.read_frame().has_value()); // then the relay closes the TCP connection
}

BOOST_DATA_TEST_CASE(a_silent_client_is_pinged_then_dropped, bdata::make(compression), compressed)
{
    const auto started = std::chrono::steady_clock::now(); // before the connection opens
    served_connection c(compressed, 400ms);
    const auto ping = c.read_frame();
    BOOST_REQUIRE(ping.has_value());
    BOOST_TEST((ping->opcode == ws_opcode::ping)); // half the idle timeout
    BOOST_TEST(!c.read_frame().has_value());       // dropped, with no close frame
    BOOST_TEST((std::chrono::steady_clock::now() - started >= 400ms));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::ws
