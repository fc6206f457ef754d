// Both WebSocket framings answer alike (ws/transport.hpp): every case runs against the
// relay's own framing and against Beast's (--compression), over raw sockets.
// - a message that arrives in the same TCP write as a close frame is answered before the
//   close is echoed (RFC 6455 section 5.5.1: the close is the last frame);
// - a close code no peer may send (section 7.4: 5000 and up) is answered with 1002, a
//   valid one echoed;
// - a client still writing an oversized message after the relay's 1009 has the rest read
//   and discarded: every write is taken, and the connection ends with a FIN, not a reset.

#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace tokenrelay::test {
namespace {

namespace bdata = boost::unit_test::data;
using namespace std::chrono_literals;

const std::vector<std::string> framings{"own", "beast"};

relay_options options_for(const std::string& framing, std::vector<std::string> flags = {})
{
    if (framing == "beast")
        flags.push_back("--compression");
    return {.flags = std::move(flags)};
}

/// A connection whose session frame has been read.
raw_ws open_ws(std::uint16_t port)
{
    raw_ws ws(port);
    const auto session = ws.read_frame(scaled(10s));
    BOOST_TEST_REQUIRE(session.has_value());
    BOOST_TEST_REQUIRE(session->payload.find(R"("type":"session")") != std::string::npos);
    return ws;
}

std::string close_frame(std::uint16_t code)
{
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    return ws_client_frame(ws_opcode::close, payload);
}

/// Frames until the relay closes the TCP connection.
std::vector<ws_frame> frames_until_closed(raw_ws& ws)
{
    std::vector<ws_frame> frames;
    while (auto f = ws.read_frame(scaled(10s)))
        frames.push_back(std::move(*f));
    return frames;
}

BOOST_DATA_TEST_CASE(a_message_before_a_close_is_answered_first, bdata::make(framings), framing)
{
    relay_fixture f(options_for(framing));
    BOOST_TEST_CONTEXT(framing << ": a text ping and a close in one write")
    {
        auto ws = open_ws(f.port());
        ws.send_raw(
            ws_client_frame(ws_opcode::text, R"({"type":"ping","timestamp":7})") + close_frame(1000)
        );
        const auto frames = frames_until_closed(ws);
        BOOST_TEST_REQUIRE(frames.size() == 2u);
        BOOST_TEST(frames[0].payload.find(R"("type":"pong")") != std::string::npos);
        BOOST_TEST((frames[1].opcode == ws_opcode::close));
        BOOST_TEST(frames[1].close_code() == 1000);
    }
    BOOST_TEST_CONTEXT(framing << ": a ping frame and a close in one write")
    {
        auto ws = open_ws(f.port());
        ws.send_raw(ws_client_frame(ws_opcode::ping, "hello") + close_frame(1000));
        const auto frames = frames_until_closed(ws);
        BOOST_TEST_REQUIRE(frames.size() == 2u);
        BOOST_TEST((frames[0].opcode == ws_opcode::pong));
        BOOST_TEST(frames[0].payload == "hello");
        BOOST_TEST(frames[1].close_code() == 1000);
    }
}

BOOST_DATA_TEST_CASE(close_codes_no_peer_may_send_get_1002, bdata::make(framings), framing)
{
    relay_fixture f(options_for(framing));
    for (const std::uint16_t code : {5000, 65535, 4999, 3000}) {
        BOOST_TEST_CONTEXT(framing << ": close code " << code)
        {
            auto ws = open_ws(f.port());
            ws.send_raw(close_frame(code));
            const auto frames = frames_until_closed(ws);
            BOOST_TEST_REQUIRE(frames.size() == 1u);
            BOOST_TEST((frames[0].opcode == ws_opcode::close));
            BOOST_TEST(frames[0].close_code() == (code >= 5000 ? 1002 : code));
        }
    }
}

BOOST_DATA_TEST_CASE(an_oversized_message_is_read_to_its_end, bdata::make(framings), framing)
{
    // Without room for images the read limit is the message limit itself.
    relay_fixture f(options_for(framing, {"--max-message-bytes", "1024", "--max-image-bytes", "0"})
    );
    auto ws = open_ws(f.port());
    const auto frame = ws_client_frame(ws_opcode::text, std::string(256 * 1024, 'x'));
    ws.send_raw(frame.substr(0, 4096));
    // The relay's answer comes while the client is still writing.
    const auto closing = ws.read_frame(scaled(10s));
    BOOST_TEST_REQUIRE(closing.has_value());
    BOOST_TEST(closing->close_code() == 1009);
    // The rest, in several writes: every one is taken.
    for (std::size_t at = 4096; at < frame.size(); at += 32 * 1024) {
        const auto part = frame.substr(at, 32 * 1024);
        BOOST_TEST_REQUIRE(ws.socket().write(part, scaled(10s)) == part.size());
    }
    const auto answer = close_frame(1009);
    BOOST_TEST_REQUIRE(ws.socket().write(answer, scaled(10s)) == answer.size());
    ::shutdown(ws.socket().fd(), SHUT_WR);
    // An orderly end: EOF, not a reset (which unread bytes on the relay's side would cause).
    // The socket is non-blocking: made blocking here, so that recv waits for the end
    // (bounded by the receive timeout) rather than finding nothing yet.
    const int flags = ::fcntl(ws.socket().fd(), F_GETFL);
    BOOST_TEST_REQUIRE(::fcntl(ws.socket().fd(), F_SETFL, flags & ~O_NONBLOCK) == 0);
    const auto wait = scaled(15s);
    const timeval limit{static_cast<time_t>(wait.count() / 1000), 0};
    ::setsockopt(ws.socket().fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    char buffer[4096];
    ssize_t n = 0;
    do {
        n = ::recv(ws.socket().fd(), buffer, sizeof buffer, 0);
    } while (n > 0 || (n < 0 && errno == EINTR));
    BOOST_TEST(n == 0, "recv: " << (n < 0 ? std::strerror(errno) : "EOF"));
}

} // namespace
} // namespace tokenrelay::test
