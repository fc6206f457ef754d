// A client that keeps sending but never reads (PROTOCOL.md section 5: a client that reads
// nothing is disconnected). The idle timeout sees only reads, so the relay bounds how long
// one of its writes may stay pending instead.

#include "support/eventually.hpp"
#include "support/metric_samples.hpp"
#include "support/relay_fixture.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;

/// A WebSocket client whose small receive window soon stops the relay's writes, past the
/// session frame it has read.
websocket::stream<tcp::socket> small_window_client(boost::asio::io_context& ioc, std::uint16_t port)
{
    tcp::socket socket(ioc);
    socket.open(tcp::v4());
    socket.set_option(boost::asio::socket_base::receive_buffer_size(4096));
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    websocket::stream<tcp::socket> ws(std::move(socket));
    ws.handshake("127.0.0.1", "/ws");
    ws.text(true);
    beast::flat_buffer first;
    ws.read(first);
    return ws;
}

BOOST_AUTO_TEST_CASE(a_client_that_sends_but_never_reads_is_disconnected, *scaled_timeout(90))
{
    relay_fixture f{{.flags = {"--idle-timeout", "2"}}};
    boost::asio::io_context ioc;
    // The session frame is the only thing this client ever reads.
    auto ws = small_window_client(ioc, f.port());
    ws.write(
        boost::asio::buffer(std::string(R"({"type":"chat","content":"flood mock:huge=50000000"})"))
    );

    // Keep the relay's reader busy with frames that get no answer (unsolicited pongs, RFC
    // 6455 section 5.5.3), so neither its idle timeout nor its control-queue bound ends
    // the connection: only the write deadline can.
    bool dropped = false;
    const auto deadline = std::chrono::steady_clock::now() + scaled(60s);
    while (std::chrono::steady_clock::now() < deadline) {
        if (f.relay().stderr_text().find(" ws_write_timeout ") != std::string::npos) {
            dropped = true;
            break;
        }
        beast::error_code ec;
        ws.pong({}, ec);
        if (ec)
            break;                          // the relay closed the socket under a write of ours
        std::this_thread::sleep_for(300ms); // the client's pace, not synchronisation
    }
    BOOST_TEST(dropped, "the relay logged no ws_write_timeout");
    // The connection is gone from the relay, and it still serves others.
    BOOST_TEST(eventually(
        [&] { return scrape_metrics(f.port()).at("tokenrelay_open_connections") == 0; }, 10s
    ));
    auto other = f.open_session();
    other->send(boost::json::object{{"type", "chat"}, {"content", "still here mock:tokens=2"}});
    BOOST_TEST(other->collect_reply().text == "w0 w1 ");
}

// The relay writes a frame at once when the socket takes it, and waits only for the part
// it did not take. A client that stops reading until the relay is held back,
// then reads on, makes those writes partial; it must still get every byte, in order.
BOOST_AUTO_TEST_CASE(a_client_that_falls_behind_then_reads_gets_every_byte, *scaled_timeout(120))
{
    relay_fixture f;
    const auto pauses_before = scrape_metrics(f.port()).at("tokenrelay_backpressure_pauses_total");
    boost::asio::io_context ioc;
    auto ws = small_window_client(ioc, f.port());
    ws.read_message_max(64 << 20);
    // 8,000,000 bytes in tokens of 64 'x': more than the sockets between can hold.
    ws.write(boost::asio::buffer(std::string(R"({"type":"chat","content":"big mock:huge=8000000"})")
    ));
    // Section 5: the relay stops reading the upstream once its write to us is stuck.
    BOOST_TEST_REQUIRE(eventually(
        [&] {
            return scrape_metrics(f.port()).at("tokenrelay_backpressure_pauses_total") >
                   pauses_before;
        },
        60s
    ));
    std::size_t bytes = 0;
    bool all_x = true;
    std::int64_t last_seq = 0;
    std::string reason;
    for (;;) {
        beast::flat_buffer b;
        ws.read(b);
        const auto v = boost::json::parse(beast::buffers_to_string(b.data())).as_object();
        const auto type = v.at("type").as_string();
        if (type == "user")
            continue; // the chat's own question, seq 1
        if (type == "token") {
            const auto content = v.at("content").as_string();
            bytes += content.size();
            all_x = all_x && content.find_first_not_of('x') == boost::json::string::npos;
            last_seq = v.at("seq").as_int64();
            continue;
        }
        BOOST_TEST_REQUIRE(type == "stream_end", boost::json::serialize(v));
        reason = v.at("reason").as_string();
        break;
    }
    BOOST_TEST(bytes == 8000000u);
    BOOST_TEST(all_x);
    BOOST_TEST(last_seq == 1 + 125000); // the user frame, then 8,000,000 / 64 tokens
    BOOST_TEST(reason == "stop");
}

} // namespace
} // namespace tokenrelay::test
