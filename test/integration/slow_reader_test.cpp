// A client that keeps sending but never reads (PROTOCOL.md section 5: a client that reads
// nothing is disconnected). The idle timeout sees only reads, so the relay bounds how long
// one of its writes may stay pending instead.

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

BOOST_AUTO_TEST_CASE(a_client_that_sends_but_never_reads_is_disconnected, *ut::timeout(90))
{
    relay_fixture f{{.flags = {"--idle-timeout", "2"}}};
    boost::asio::io_context ioc;
    tcp::socket socket(ioc);
    socket.open(tcp::v4());
    // A small receive window, so the relay's writes stop completing soon.
    socket.set_option(boost::asio::socket_base::receive_buffer_size(4096));
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), f.port()});
    websocket::stream<tcp::socket> ws(std::move(socket));
    ws.handshake("127.0.0.1", "/ws");
    ws.text(true);
    // The session frame is the only thing this client ever reads.
    beast::flat_buffer first;
    ws.read(first);
    ws.write(
        boost::asio::buffer(std::string(R"({"type":"chat","content":"flood mock:huge=50000000"})"))
    );

    // Keep the relay's reader busy with frames that get no answer (unsolicited pongs, RFC
    // 6455 section 5.5.3), so neither its idle timeout nor its control-queue bound ends
    // the connection: only the write deadline can.
    bool dropped = false;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
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
    const auto gone_by = std::chrono::steady_clock::now() + 10s;
    while (scrape_metrics(f.port()).at("tokenrelay_open_connections") != 0 &&
           std::chrono::steady_clock::now() < gone_by)
        std::this_thread::sleep_for(50ms);
    BOOST_TEST(scrape_metrics(f.port()).at("tokenrelay_open_connections") == 0);
    auto other = f.open_session();
    other->send(boost::json::object{{"type", "chat"}, {"content", "still here mock:tokens=2"}});
    BOOST_TEST(other->collect_reply().text == "w0 w1 ");
}

} // namespace
} // namespace tokenrelay::test
