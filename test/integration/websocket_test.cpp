// The WebSocket layer itself (PROTOCOL.md sections 2 and 5): the opening handshake's
// answers, and permessage-deflate, which only --compression allows (Beast's stream then
// does the framing; without the flag, the relay's own framing never offers it).

#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

std::string upgrade_request(std::string_view extra_headers)
{
    std::string r = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n";
    r += extra_headers;
    r += "\r\n";
    return r;
}

BOOST_AUTO_TEST_CASE(handshake_answers, *scaled_timeout(60))
{
    relay_fixture f;
    BOOST_TEST_CONTEXT("a good request: 101 with the RFC 6455 accept value")
    {
        const auto r = http_raw(
            f.port(),
            upgrade_request("Sec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            2s
        );
        BOOST_TEST(r.status == 101u);
        BOOST_TEST(r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        BOOST_TEST(r.header("Sec-WebSocket-Extensions").empty());
    }
    BOOST_TEST_CONTEXT("another protocol version: 426 naming version 13")
    {
        const auto r = http_raw(
            f.port(),
            upgrade_request("Sec-WebSocket-Version: 8\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
        );
        BOOST_TEST(r.status == 426u);
        BOOST_TEST(r.header("Sec-WebSocket-Version") == "13");
    }
    BOOST_TEST_CONTEXT("no key: 400")
    {
        const auto r = http_raw(f.port(), upgrade_request("Sec-WebSocket-Version: 13\r\n"));
        BOOST_TEST(r.status == 400u);
    }
    BOOST_TEST_CONTEXT("a key that is not 16 bytes of base64: 400")
    {
        const auto r = http_raw(
            f.port(),
            upgrade_request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n")
        );
        BOOST_TEST(r.status == 400u);
    }
    // Refused upgrades take no connection slot and leave the relay serving.
    auto s = f.open_session();
    s->send({{"type", "chat"}, {"content", "after mock:tokens=2"}});
    BOOST_TEST(s->collect_reply().text == "w0 w1 ");
}

BOOST_AUTO_TEST_CASE(frames_sent_behind_the_upgrade_request_are_read, *scaled_timeout(60))
{
    // A client may send its first frames without waiting for the 101: they arrive with
    // the request and are read with it.
    relay_fixture f;
    raw_socket socket(f.port());
    std::string out = ws_upgrade_request("/ws", f.port());
    out += ws_client_frame(ws_opcode::text, R"({"type":"ping","timestamp":31337})");
    out += ws_client_frame(ws_opcode::ping, "right behind");
    BOOST_TEST_REQUIRE(socket.write(out, 5s) == out.size());
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
    while ((in.find(R"("client_timestamp":31337)") == std::string::npos ||
            in.find("right behind") == std::string::npos) &&
           std::chrono::steady_clock::now() < deadline) {
        if (socket.read_some(in, 1s) == raw_socket::status::closed)
            break;
    }
    BOOST_TEST(in.starts_with("HTTP/1.1 101"));
    BOOST_TEST(in.find(R"("type":"pong")") != std::string::npos, in);
    BOOST_TEST(in.find(R"("client_timestamp":31337)") != std::string::npos, in);
    // The pong frame (0x8A) carrying the ping's payload.
    BOOST_TEST(in.find("\x8A\x0Cright behind") != std::string::npos, in);
}

/// A client that offers permessage-deflate; returns the handshake's answer and the reply
/// to one chat.
struct deflate_run
{
    std::string extensions;
    std::string text;
};

deflate_run chat_offering_deflate(std::uint16_t port)
{
    net::io_context ioc;
    websocket::stream<tcp::socket> ws(ioc);
    ws.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws.set_option(pmd);
    websocket::response_type res;
    ws.handshake(res, "127.0.0.1", "/ws");
    deflate_run run;
    run.extensions = std::string(res[http::field::sec_websocket_extensions]);
    beast::flat_buffer buffer;
    ws.read(buffer); // the session frame
    ws.text(true);
    ws.write(net::buffer(std::string(R"({"type":"chat","content":"squeeze mock:tokens=3"})")));
    for (;;) {
        buffer.clear();
        ws.read(buffer);
        const auto frame = json::parse(beast::buffers_to_string(buffer.data())).as_object();
        const auto type = frame.at("type").as_string();
        if (type == "token")
            run.text += frame.at("content").as_string();
        if (type == "stream_end" || type == "error")
            break;
    }
    ws.close(websocket::close_code::normal);
    return run;
}

BOOST_AUTO_TEST_CASE(deflate_only_with_the_compression_flag, *scaled_timeout(60))
{
    {
        relay_fixture f{{.flags = {"--compression"}}};
        const auto run = chat_offering_deflate(f.port());
        BOOST_TEST(run.extensions.find("permessage-deflate") != std::string::npos);
        BOOST_TEST(run.text == "w0 w1 w2 ");
    }
    {
        relay_fixture f;
        const auto run = chat_offering_deflate(f.port());
        BOOST_TEST(run.extensions.empty());
        BOOST_TEST(run.text == "w0 w1 w2 ");
    }
}

} // namespace
} // namespace tokenrelay::test
