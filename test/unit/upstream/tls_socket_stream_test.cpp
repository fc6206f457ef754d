// The TLS stream that runs OpenSSL on the socket (upstream/tls_socket_stream.hpp), against
// an ssl::stream server on the same loop, step by step: when a read may report the socket
// drained, so that the next one waits for readiness without missing what arrives.
#include <tokenrelay/core/build_config.hpp>

#if TOKENRELAY_DIRECT_TLS

#include "test_certificate.hpp"
#include <tokenrelay/core/draining_read_buffer.hpp>
#include <tokenrelay/core/tls_client_context.hpp>
#include <tokenrelay/upstream/tls_socket_stream.hpp>

#include <boost/test/unit_test.hpp>

#include <openssl/x509v3.h>

#include <optional>
#include <string>

namespace tokenrelay::upstream {
namespace {

using namespace test;
using namespace std::chrono_literals;

/// A connected pair: this stream as the client, an ssl::stream as the server, the
/// handshake done.
struct tls_pair
{
    tls_pair()
        : pems(make_certificate("DNS:localhost")), ca(pems.cert), server_tls(server_context(pems)),
          client_tls(make_client_tls_context(ca.path.string()))
    {
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        tcp::socket near(ioc);
        near.connect(acceptor.local_endpoint());
        error_code ec;
        report_unread_bytes(near, ec);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        server.emplace(acceptor.accept(), *server_tls);
        client.emplace(std::move(near), *client_tls);
        BOOST_TEST_REQUIRE(
            X509_VERIFY_PARAM_set1_host(SSL_get0_param(client->native_handle()), "localhost", 0) ==
            1
        );

        std::optional<error_code> client_done, server_done;
        client->async_handshake([&](error_code e, std::size_t) { client_done = e; });
        server->async_handshake(ssl::stream_base::server, [&](error_code e) { server_done = e; });
        run_until([&] { return client_done && server_done; });
        BOOST_TEST_REQUIRE(!*client_done, client_done->message());
        BOOST_TEST_REQUIRE(!*server_done, server_done->message());
    }

    /// Runs the loop until `done()`, for at most two seconds.
    template <class Done> void run_until(Done done)
    {
        const auto limit = std::chrono::steady_clock::now() + 2s;
        ioc.restart();
        while (!done() && std::chrono::steady_clock::now() < limit)
            ioc.run_one_for(50ms);
    }

    /// One record from the server, written to the end.
    void server_writes(const std::string& text) { net::write(*server, net::buffer(text)); }

    /// One read of the client: its text, its error, or that it did not complete within
    /// two seconds.
    std::string client_reads()
    {
        std::optional<std::string> got;
        client->async_read_some(net::buffer(buf), [&](error_code e, std::size_t n) {
            got = e ? "error: " + e.message() : std::string(buf, n);
        });
        run_until([&] { return got.has_value(); });
        return got.value_or("(no completion)");
    }

    pem_pair pems;
    temp_file ca;
    std::unique_ptr<ssl::context> server_tls;
    std::shared_ptr<ssl::context> client_tls;
    net::io_context ioc;
    std::optional<ssl::stream<tcp::socket>> server;
    std::optional<tls_socket_stream> client;
    char buf[4096];
};

} // namespace

BOOST_AUTO_TEST_SUITE(tls_socket_stream_steps)

// Two records in one receive: the first read returns the first and keeps the second
// (read ahead). A third record arrives, and its readiness event is taken by
// the loop, while no read waits. The second read is served from OpenSSL's buffer without
// a receive: it must not call the socket drained (its receive was the first read's), or
// the third read would wait for an event that already came.
BOOST_AUTO_TEST_CASE(a_read_served_from_buffered_records_does_not_call_the_socket_drained)
{
    tls_pair p;
    p.server_writes("first");
    p.server_writes("second");
    BOOST_TEST(p.client_reads() == std::string("first"));
    BOOST_TEST_REQUIRE(p.client->holds_input());

    p.server_writes("third");
    // The loop takes the readiness event of "third" with no read waiting (the guard makes
    // poll run the reactor: without outstanding work it returns at once).
    {
        const auto busy = net::make_work_guard(p.ioc);
        p.ioc.restart();
        p.ioc.poll();
        p.ioc.poll();
    }

    BOOST_TEST(p.client_reads() == std::string("second"));
    BOOST_TEST(p.client_reads() == std::string("third"));
}

// A read that takes the last byte the kernel holds reports the socket drained; the next read
// waits for readiness and still gets what comes later, and the end of the stream.
BOOST_AUTO_TEST_CASE(after_a_drained_read_later_records_and_the_end_still_arrive)
{
    tls_pair p;
    for (int i = 0; i < 20; ++i) {
        const auto text = "token " + std::to_string(i);
        p.server_writes(text);
        BOOST_TEST(p.client_reads() == text);
    }
    // The server's close_notify; its shutdown then waits for the client's, which never comes.
    p.server->async_shutdown([](error_code) {});
    BOOST_TEST(p.client_reads() == "error: " + error_code(net::error::eof).message());
}

// A peer that closes the connection without close_notify ends reads with stream_truncated,
// as with ssl::stream.
BOOST_AUTO_TEST_CASE(a_close_without_close_notify_is_stream_truncated)
{
    tls_pair p;
    p.server_writes("last");
    BOOST_TEST(p.client_reads() == std::string("last"));
    p.server->next_layer().close();
    BOOST_TEST(p.client_reads() == "error: " + error_code(ssl::error::stream_truncated).message());
}

// Past the deadline a waiting read ends with beast::error::timeout, and a read started after
// it ends so at once.
BOOST_AUTO_TEST_CASE(reads_past_the_deadline_end_with_timeout)
{
    tls_pair p;
    p.client->expires_after(100ms);
    BOOST_TEST(p.client_reads() == "error: " + error_code(beast::error::timeout).message());
    BOOST_TEST(p.client_reads() == "error: " + error_code(beast::error::timeout).message());
    p.client->expires_never();
    p.server_writes("again");
    BOOST_TEST(p.client_reads() == std::string("again"));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream

#endif
