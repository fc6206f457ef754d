// HTTPS against an in-process TLS server with a certificate made for the test: the CA
// file option, SNI and host name verification (PROTOCOL.md section 6).
#include "loopback_server.hpp"
#include "test_certificate.hpp"
#include <tokenrelay/core/tls_client_context.hpp>
#include <tokenrelay/upstream/http_source.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

namespace tokenrelay::upstream {
namespace {

using namespace test;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

http_source_options options_for(const std::string& url)
{
    http_source_options o;
    o.endpoint = *parse_endpoint(url).value;
    o.api_key = "sk-tls";
    o.connect_timeout = 2s;
    o.first_token_timeout = 5s;
    o.token_timeout = 5s;
    o.retry_limits = {0, 0ms, 1ms, 1ms};
    return o;
}

chat_request hello_request()
{
    chat_request r;
    r.model = "m";
    r.messages = {{"user", "hi"}};
    return r;
}

reply ok_reply(const served_request&, std::size_t)
{
    return sse_reply({content("secure"), finish("stop"), "[DONE]"});
}

awaitable<std::vector<stream_event>>
run_stream(model_source& src, chat_request request = hello_request())
{
    event_channel ch(co_await net::this_coro::executor, 16);
    std::vector<stream_event> seen;
    auto consume = [&]() -> awaitable<void> {
        for (;;) {
            seen.push_back(co_await ch.async_receive(net::use_awaitable));
            if (seen.back().type == stream_event::kind::finished ||
                seen.back().type == stream_event::kind::failed)
                co_return;
        }
    };
    using namespace net::experimental::awaitable_operators;
    co_await (src.stream(request, ch) && consume());
    co_return seen;
}

/// A TLS loopback server with its own certificate, and a source trusting it.
struct tls_upstream
{
    explicit tls_upstream(script s, std::function<void(http_source_options&)> adjust = {})
        : pems(make_certificate("DNS:localhost")), ca(pems.cert), server_tls(server_context(pems)),
          server(ioc, std::move(s), server_tls.get())
    {
        auto o = options_for("https://localhost:" + std::to_string(server.port()) + "/v1");
        if (adjust)
            adjust(o);
        src.emplace(ioc.get_executor(), make_client_tls_context(ca.path.string()), o);
    }

    pem_pair pems;
    temp_file ca;
    std::unique_ptr<ssl::context> server_tls;
    net::io_context ioc;
    loopback_server server;
    std::optional<http_source> src;
};

std::vector<std::string> texts_of(const std::vector<stream_event>& events)
{
    std::vector<std::string> out;
    for (const auto& e : events)
        if (e.type == stream_event::kind::token)
            out.emplace_back(e.text);
    return out;
}

/// The response head and one token, then `after`.
reply one_token_then(reply::then after, std::chrono::milliseconds gap = 0ms)
{
    reply r;
    r.writes.push_back(sse_head());
    r.writes.push_back(chunk(event(content("w0 "))));
    r.gap = gap;
    r.after = after;
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_source_tls)

BOOST_AUTO_TEST_CASE(verified_stream_with_sni_and_reuse)
{
    const auto pems = make_certificate("DNS:localhost");
    const temp_file ca(pems.cert);
    auto server_tls = server_context(pems);
    net::io_context ioc;
    loopback_server server(ioc, ok_reply, server_tls.get());
    http_source src(
        ioc.get_executor(),
        make_client_tls_context(ca.path.string()),
        options_for("https://localhost:" + std::to_string(server.port()) + "/v1")
    );
    std::vector<stream_event> first, second;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        first = co_await run_stream(src);
        second = co_await run_stream(src);
    });
    for (const auto* events : {&first, &second}) {
        BOOST_TEST_REQUIRE(events->size() == 2u);
        BOOST_TEST((*events)[0].text == "secure");
        BOOST_TEST((*events)[1].end->finish_reason == "stop");
        BOOST_TEST_REQUIRE(((*events)[1].type == stream_event::kind::finished));
    }
    BOOST_TEST(server.accepts == 1);
    BOOST_TEST_REQUIRE(server.requests.size() == 2u);
    BOOST_TEST(server.requests[0].server_name == "localhost");
    BOOST_TEST(server.requests[0].authorization == "Bearer sk-tls");
}

BOOST_AUTO_TEST_CASE(ip_literal_is_verified_against_ip_addresses_without_sni)
{
    const auto pems = make_certificate("IP:127.0.0.1");
    const temp_file ca(pems.cert);
    auto server_tls = server_context(pems);
    net::io_context ioc;
    loopback_server server(ioc, ok_reply, server_tls.get());
    http_source src(
        ioc.get_executor(),
        make_client_tls_context(ca.path.string()),
        options_for("https://127.0.0.1:" + std::to_string(server.port()) + "/v1")
    );
    std::vector<stream_event> got;
    run_with_limit(ioc, [&]() -> awaitable<void> { got = co_await run_stream(src); });
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].text == "secure");
    BOOST_TEST_REQUIRE(server.requests.size() == 1u);
    BOOST_TEST(server.requests[0].server_name == "");
}

BOOST_AUTO_TEST_CASE(unknown_issuer_is_refused)
{
    const auto pems = make_certificate("DNS:localhost");
    auto server_tls = server_context(pems);
    net::io_context ioc;
    loopback_server server(ioc, ok_reply, server_tls.get());
    http_source src(
        ioc.get_executor(),
        make_client_tls_context(""), // system store only: the test certificate is unknown
        options_for("https://localhost:" + std::to_string(server.port()) + "/v1")
    );
    std::vector<stream_event> got;
    run_with_limit(ioc, [&]() -> awaitable<void> { got = co_await run_stream(src); });
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST_REQUIRE((got[0].type == stream_event::kind::failed));
    BOOST_TEST((got[0].end->code == errc::upstream_error));
    BOOST_TEST(got[0].end->http_status == 0);
    BOOST_TEST(
        got[0].end->message.rfind("upstream TLS handshake failed: certificate verify failed", 0) ==
            0,
        got[0].end->message
    );
    BOOST_TEST(server.requests.empty());
}

BOOST_AUTO_TEST_CASE(host_name_mismatch_is_refused)
{
    const auto pems = make_certificate("DNS:other.example");
    const temp_file ca(pems.cert);
    auto server_tls = server_context(pems);
    net::io_context ioc;
    loopback_server server(ioc, ok_reply, server_tls.get());
    http_source src(
        ioc.get_executor(),
        make_client_tls_context(ca.path.string()),
        options_for("https://localhost:" + std::to_string(server.port()) + "/v1")
    );
    std::vector<stream_event> got;
    run_with_limit(ioc, [&]() -> awaitable<void> { got = co_await run_stream(src); });
    BOOST_TEST_REQUIRE(got.size() == 1u);
    BOOST_TEST_REQUIRE((got[0].type == stream_event::kind::failed));
    BOOST_TEST(
        got[0].end->message.rfind("upstream TLS handshake failed: certificate verify failed", 0) ==
            0,
        got[0].end->message
    );
    BOOST_TEST(server.requests.empty());
}

// A server that accepts and then never says a word holds the TLS handshake: the
// first-token deadline covers it (PROTOCOL.md section 2, `timeout`), and so does the
// connect timeout when it comes first (`upstream_error`, once the retries are spent).
BOOST_AUTO_TEST_CASE(a_handshake_that_never_completes_ends_at_the_earlier_deadline)
{
    struct variant
    {
        std::chrono::milliseconds connect_timeout;
        std::chrono::milliseconds first_token_timeout;
        errc code;
        std::string message;
    };
    const variant variants[] = {
        {10s, 300ms, errc::timeout, "no first token within 0.3s"},
        {300ms, 10s, errc::upstream_error, "upstream TLS handshake failed: timed out"},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.message)
        {
            net::io_context ioc;
            // Listening, never accepting: the kernel completes the TCP handshake, and the
            // ClientHello waits in its queue for ever.
            tcp::acceptor silent(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
            auto o = options_for(
                "https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/v1"
            );
            o.connect_timeout = v.connect_timeout;
            o.first_token_timeout = v.first_token_timeout;
            http_source src(ioc.get_executor(), make_client_tls_context(""), o);
            std::vector<stream_event> got;
            clock::duration took{};
            run_with_limit(ioc, [&]() -> awaitable<void> {
                const auto start = clock::now();
                got = co_await run_stream(src);
                took = clock::now() - start;
            });
            BOOST_TEST_REQUIRE(got.size() == 1u);
            BOOST_TEST_REQUIRE((got[0].type == stream_event::kind::failed));
            BOOST_TEST((got[0].end->code == v.code), got[0].end->message);
            BOOST_TEST(got[0].end->message == v.message);
            BOOST_TEST(got[0].end->http_status == 0);
            BOOST_TEST((took >= 300ms), (took / 1ms) << " ms");
            BOOST_TEST((took < 3s), (took / 1ms) << " ms");
        }
    }
}

// A request of many TLS records (written a record at a time, its head and body gathered)
// and a reply whose events come in one write, so that reads end inside records and find
// the rest already decrypted: every byte arrives, in order.
BOOST_AUTO_TEST_CASE(a_request_and_a_reply_of_many_records_cross_intact)
{
    constexpr int tokens = 3000;
    tls_upstream up([](const served_request&, std::size_t) {
        reply r;
        r.writes.push_back(sse_head());
        std::string events;
        for (int i = 0; i < tokens; ++i)
            events += event(content("t" + std::to_string(i) + " "));
        events += event(finish("stop")) + event("[DONE]");
        r.writes.push_back(chunk(events) + last_chunk);
        return r;
    });
    auto request = hello_request();
    std::string long_text;
    for (int i = 0; long_text.size() < 200'000; ++i)
        long_text += "line " + std::to_string(i) + ". ";
    request.messages = {{"user", long_text}};
    std::vector<stream_event> got;
    run_with_limit(up.ioc, [&]() -> awaitable<void> {
        got = co_await run_stream(*up.src, request);
    });
    std::vector<std::string> want;
    for (int i = 0; i < tokens; ++i)
        want.push_back("t" + std::to_string(i) + " ");
    BOOST_TEST(texts_of(got) == want);
    BOOST_TEST_REQUIRE(!got.empty());
    BOOST_TEST((got.back().type == stream_event::kind::finished));
    BOOST_TEST_REQUIRE(up.server.requests.size() == 1u);
    const auto& body = up.server.requests[0].body;
    BOOST_TEST(body.size() > long_text.size());
    BOOST_TEST(body.find(long_text.substr(long_text.size() - 2000)) != std::string::npos);
}

// Token stream reads on a TLS connection drain (tls_socket_stream.hpp, or tls_transport.hpp
// with ssl::stream): after a read that left nothing in the socket, the next waits for
// readiness instead of trying first.
// Tokens that arrive apart, a stall, an end mid-reply and a reused connection's next
// response head must all still be seen, each when it happens.
BOOST_AUTO_TEST_CASE(tokens_sent_apart_each_arrive_then_the_connection_is_reused)
{
    constexpr int tokens = 40;
    tls_upstream up([](const served_request&, std::size_t index) {
        if (index > 0)
            return ok_reply({}, index);
        std::vector<std::string> payloads;
        for (int i = 0; i < tokens; ++i)
            payloads.push_back(content("t" + std::to_string(i) + " "));
        payloads.push_back(finish("stop"));
        payloads.push_back("[DONE]");
        auto r = sse_reply(payloads);
        r.gap = 3ms;
        return r;
    });
    std::vector<stream_event> first, second;
    run_with_limit(up.ioc, [&]() -> awaitable<void> {
        first = co_await run_stream(*up.src);
        second = co_await run_stream(*up.src);
    });
    std::vector<std::string> want;
    for (int i = 0; i < tokens; ++i)
        want.push_back("t" + std::to_string(i) + " ");
    BOOST_TEST(texts_of(first) == want, boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(!first.empty());
    BOOST_TEST((first.back().type == stream_event::kind::finished));
    BOOST_TEST(
        texts_of(second) == std::vector<std::string>{"secure"}, boost::test_tools::per_element()
    );
    BOOST_TEST(up.server.accepts == 1);
}

BOOST_AUTO_TEST_CASE(a_stall_after_a_token_ends_at_the_token_timeout)
{
    tls_upstream up(
        [](const served_request&, std::size_t) { return one_token_then(reply::then::stall); },
        [](http_source_options& o) { o.token_timeout = 300ms; }
    );
    std::vector<stream_event> got;
    run_with_limit(up.ioc, [&]() -> awaitable<void> { got = co_await run_stream(*up.src); });
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].text == "w0 ");
    BOOST_TEST_REQUIRE((got[1].type == stream_event::kind::failed));
    BOOST_TEST((got[1].end->code == errc::timeout), got[1].end->message);
    BOOST_TEST(got[1].end->message == "no token within 0.3s");
}

// A drained read waits for readiness: the end of the connection after a token must still
// be seen at once, not at the token timeout.
BOOST_AUTO_TEST_CASE(a_connection_closed_mid_reply_is_an_upstream_error_at_once)
{
    // The token apart from the head, so it and the end arrive while a body read waits.
    // options_for's token timeout is 5 s.
    tls_upstream up([](const served_request&, std::size_t) {
        return one_token_then(reply::then::close, 50ms);
    });
    std::vector<stream_event> got;
    clock::duration took{};
    run_with_limit(up.ioc, [&]() -> awaitable<void> {
        const auto start = clock::now();
        got = co_await run_stream(*up.src);
        took = clock::now() - start;
    });
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].text == "w0 ");
    BOOST_TEST_REQUIRE((got[1].type == stream_event::kind::failed));
    BOOST_TEST((got[1].end->code == errc::upstream_error), got[1].end->message);
    BOOST_TEST((took < 3s), (took / 1ms) << " ms");
}

// Outside a token stream, reads are bounded by the connection's deadline again: a reused
// connection whose next response never comes ends at the first-token deadline.
BOOST_AUTO_TEST_CASE(a_reused_connection_that_never_answers_ends_at_the_first_token_deadline)
{
    tls_upstream up(
        [](const served_request&, std::size_t index) {
            if (index == 0)
                return ok_reply({}, index);
            reply r;
            r.after = reply::then::stall;
            return r;
        },
        [](http_source_options& o) { o.first_token_timeout = 300ms; }
    );
    std::vector<stream_event> first, second;
    run_with_limit(up.ioc, [&]() -> awaitable<void> {
        first = co_await run_stream(*up.src);
        second = co_await run_stream(*up.src);
    });
    BOOST_TEST(
        texts_of(first) == std::vector<std::string>{"secure"}, boost::test_tools::per_element()
    );
    BOOST_TEST_REQUIRE(second.size() == 1u);
    BOOST_TEST_REQUIRE((second[0].type == stream_event::kind::failed));
    BOOST_TEST((second[0].end->code == errc::timeout), second[0].end->message);
    BOOST_TEST(second[0].end->message == "no first token within 0.3s");
    BOOST_TEST(up.server.accepts == 1);
}

BOOST_AUTO_TEST_CASE(https_without_a_tls_context_is_a_setup_error)
{
    net::io_context ioc;
    BOOST_CHECK_THROW(
        http_source(ioc.get_executor(), nullptr, options_for("https://localhost/v1")),
        std::invalid_argument
    );
}

BOOST_AUTO_TEST_CASE(bad_ca_files_are_reported_with_their_name)
{
    const temp_file garbage("this is not a certificate\n");
    const std::string missing = "/nonexistent/tokenrelay-ca.pem";
    for (const auto& path : {garbage.path.string(), missing}) {
        BOOST_TEST_CONTEXT(path)
        {
            try {
                make_client_tls_context(path);
                BOOST_FAIL("no exception");
            } catch (const std::runtime_error& e) {
                const std::string what = e.what();
                BOOST_TEST(
                    what.find("cannot load CA certificates from '" + path + "'") == 0u, what
                );
            }
        }
    }
    BOOST_CHECK_NO_THROW(make_client_tls_context(""));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
