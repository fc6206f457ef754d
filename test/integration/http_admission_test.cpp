// What every HTTP request passes on its way (PROTOCOL.md sections 1 and 7): the Host check
// against DNS rebinding, the framing rules of RFC 9112 that keep one request from hiding
// another (request smuggling), and answers to HEAD that carry no body. Each case writes
// raw bytes on one connection and reads every answer it gets, so an extra answer or a
// connection left open shows.

#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

/// A second request that must never be answered: it hides where the first one's body is.
const std::string smuggled = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// An upgrade request as a page on `origin` would send it to `host`.
std::string browser_upgrade(std::string_view host, std::string_view origin)
{
    return "GET /ws HTTP/1.1\r\nHost: " + std::string(host) + "\r\nOrigin: " + std::string(origin) +
           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

std::string completion_post(std::string_view host, std::string_view origin)
{
    const std::string body = R"({"messages":[{"role":"user","content":"hi mock:tokens=2"}]})";
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: " + std::string(host) +
           "\r\nOrigin: " + std::string(origin) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

/// Exactly one refusal with `status`, nothing after it, and the connection closed.
void expect_refused_and_closed(const raw_exchange& x, unsigned status)
{
    BOOST_TEST_REQUIRE(x.responses.size() == 1u, "rest: " << x.rest);
    BOOST_TEST(x.responses[0].status == status, x.responses[0].body);
    BOOST_TEST(x.responses[0].header("Connection") == "close");
    BOOST_TEST(x.rest.empty(), "after the refusal: " << x.rest);
    BOOST_TEST(x.closed);
}

// ---------------------------------------------------------------------------------------
// DNS rebinding: a page on a name the attacker controls, resolved to 127.0.0.1, sends that
// name as Host and its own origin as Origin, which look alike to the origin check.

BOOST_AUTO_TEST_CASE(a_foreign_host_name_is_misdirected_on_every_door, *scaled_timeout(60))
{
    relay_fixture f;
    const auto port = std::to_string(f.port());
    const std::string attacker = "x.attacker.example:" + port;
    const std::string attacker_origin = "http://" + attacker;

    BOOST_TEST_CONTEXT("the WebSocket upgrade")
    {
        const auto x = http_raw_exchange(
            f.port(), browser_upgrade(attacker, attacker_origin), {http::verb::get}
        );
        expect_refused_and_closed(x, 421);
    }
    BOOST_TEST_CONTEXT("the completions door")
    {
        const auto x = http_raw_exchange(
            f.port(), completion_post(attacker, attacker_origin), {http::verb::post}
        );
        expect_refused_and_closed(x, 421);
    }
    BOOST_TEST(f.mock_stats().at("requests").as_int64() == 0);

    const std::vector<std::string> foreign{
        attacker,
        "X.Attacker.Example",
        "localhost.attacker.example:" + port,
        "127.0.0.1.nip.io:" + port,
        "attacker.example.:" + port,
        "localhost-attacker.example"};
    for (const auto& host : foreign) {
        BOOST_TEST_CONTEXT("GET / with Host: " << host)
        {
            const auto x = http_raw_exchange(
                f.port(), "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n", {http::verb::get}
            );
            expect_refused_and_closed(x, 421);
            BOOST_TEST(x.responses[0].body.size() < 200u);
        }
    }
    BOOST_TEST_CONTEXT("HEAD with a foreign Host: headers only")
    {
        const auto x = http_raw_exchange(
            f.port(), "HEAD / HTTP/1.1\r\nHost: " + attacker + "\r\n\r\n", {http::verb::head}
        );
        expect_refused_and_closed(x, 421);
    }
}

BOOST_AUTO_TEST_CASE(addresses_and_loopback_names_are_the_relays_own, *scaled_timeout(60))
{
    relay_fixture f;
    const auto port = std::to_string(f.port());
    const std::vector<std::string> own{
        "127.0.0.1:" + port,
        "127.0.0.1",
        "[::1]:" + port,
        "10.1.2.3:" + port,
        "localhost:" + port,
        "LocalHost",
        "chat.localhost:" + port};
    for (const auto& host : own) {
        BOOST_TEST_CONTEXT("Host: " << host)
        {
            const auto x = http_raw_exchange(
                f.port(),
                "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n" +
                    "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n",
                {http::verb::get, http::verb::get}
            );
            BOOST_TEST_REQUIRE(x.responses.size() == 2u);
            BOOST_TEST(x.responses[0].status == 200u);
            BOOST_TEST(x.responses[1].body == "ok");
        }
    }
    // The page's own origin, reached by a loopback name, may still chat.
    const auto x = http_raw_exchange(
        f.port(),
        browser_upgrade("localhost:" + port, "http://localhost:" + port),
        {http::verb::get},
        100ms
    );
    BOOST_TEST_REQUIRE(x.responses.size() == 1u);
    BOOST_TEST(x.responses[0].status == 101u);
}

BOOST_AUTO_TEST_CASE(public_hosts_and_allowed_origins_name_the_relay, *scaled_timeout(60))
{
    relay_fixture f{
        {.flags = {
             "--public-host",
             "chat.example.com",
             "--public-host",
             "Relay.Example.NET",
             "--allowed-origin",
             "https://app.example.org"}}};
    for (const std::string host :
         {"chat.example.com",
          "CHAT.example.com:443",
          "relay.example.net:8080",
          "app.example.org"}) {
        BOOST_TEST_CONTEXT("Host: " << host)
        {
            const auto r = http_get(f.port(), "/healthz", {{"Host", host}});
            BOOST_TEST(r.status == 200u);
        }
    }
    for (const std::string host :
         {"example.com", "evil.chat.example.com", "app.example.org.evil"}) {
        BOOST_TEST_CONTEXT("Host: " << host)
        {
            const auto x = http_raw_exchange(
                f.port(), "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n", {http::verb::get}
            );
            expect_refused_and_closed(x, 421);
        }
    }
    // The allowed origin's page, behind the public name, gets its WebSocket.
    const auto x = http_raw_exchange(
        f.port(),
        browser_upgrade("chat.example.com", "https://app.example.org"),
        {http::verb::get},
        100ms
    );
    BOOST_TEST_REQUIRE(x.responses.size() == 1u);
    BOOST_TEST(x.responses[0].status == 101u);
}

// ---------------------------------------------------------------------------------------
// Request smuggling (RFC 9112 sections 6.1 and 6.3): a request whose length two parsers
// could read differently is refused and the connection closed, so nothing behind it is
// taken for a request.

BOOST_AUTO_TEST_CASE(ambiguous_framing_is_refused_and_closes, *scaled_timeout(120))
{
    relay_fixture f;
    const auto length = std::to_string(smuggled.size());
    struct row
    {
        std::string what;
        std::string head; // the first request's header block, without the empty line
    };
    const std::vector<row> rows{
        {"Transfer-Encoding: xchunked",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\n"},
        {"Transfer-Encoding: chunked, identity",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\n"},
        {"Transfer-Encoding: gzip",
         "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n"},
        {"Transfer-Encoding: gzip and a Content-Length",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n"
         "Content-Length: " +
             length + "\r\n"},
        {"Content-Length, then Transfer-Encoding: chunked",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
         "Transfer-Encoding: chunked\r\n"},
        {"Transfer-Encoding: chunked, then a Content-Length",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
         "Content-Length: 0\r\n"},
        {"Transfer-Encoding in HTTP/1.0",
         "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
         "Transfer-Encoding: chunked\r\n"},
        {"an obs-fold line",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: folded\r\n  onto two lines\r\n"},
        {"an obs-fold line with a tab, in Transfer-Encoding",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\t, chunked\r\n"},
        {"no Host in HTTP/1.1", "GET /healthz HTTP/1.1\r\nUser-Agent: probe\r\n"},
        {"two Host fields",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: x.attacker.example\r\n"},
        {"two Host fields, the same",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            const auto x =
                http_raw_exchange(f.port(), r.head + "\r\n" + smuggled, {http::verb::get});
            expect_refused_and_closed(x, 400);
            BOOST_TEST(x.rest.find("tokenrelay_") == std::string::npos);
        }
    }
    BOOST_TEST_CONTEXT("Transfer-Encoding: gzip, chunked: a coding the relay cannot undo")
    {
        const auto x = http_raw_exchange(
            f.port(),
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Transfer-Encoding: gzip, chunked\r\n\r\n" +
                smuggled,
            {http::verb::post}
        );
        expect_refused_and_closed(x, 501);
    }
    BOOST_TEST(f.mock_stats().at("requests").as_int64() == 0);

    // Controls: a chunked body is still read as one, a request behind it still answered,
    // and HTTP/1.0 needs no Host.
    const std::string body = R"({"messages":[{"role":"user","content":"hi mock:tokens=2"}]})";
    const auto chunked = http_raw_exchange(
        f.port(),
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
            [&] {
                char size[16];
                std::snprintf(size, sizeof size, "%zx", body.size());
                return std::string(size);
            }() +
            "\r\n" + body + "\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        {http::verb::post, http::verb::get},
        100ms
    );
    BOOST_TEST_REQUIRE(chunked.responses.size() == 2u);
    BOOST_TEST(chunked.responses[0].status == 200u, chunked.responses[0].body);
    BOOST_TEST(chunked.responses[1].body == "ok");
    const auto old =
        http_raw_exchange(f.port(), "GET /healthz HTTP/1.0\r\n\r\n", {http::verb::get});
    BOOST_TEST_REQUIRE(old.responses.size() == 1u);
    BOOST_TEST(old.responses[0].body == "ok");
    BOOST_TEST(old.closed);
}

// ---------------------------------------------------------------------------------------
// HEAD (RFC 9110 section 9.3.2): the headers GET would get, and no body, so the next answer
// on a kept-alive connection starts where the client expects it.

BOOST_AUTO_TEST_CASE(head_answers_have_no_body_on_any_door, *scaled_timeout(60))
{
    relay_fixture f;
    for (const char* target :
         {"/v1/chat/completions",
          "/",
          "/index.html",
          "/healthz",
          "/readyz",
          "/metrics",
          "/no/such",
          "/%zz"}) {
        BOOST_TEST_CONTEXT("HEAD " << target)
        {
            const auto x = http_raw_exchange(
                f.port(),
                std::string("HEAD ") + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                {http::verb::head, http::verb::get}
            );
            BOOST_TEST_REQUIRE(x.responses.size() == 2u, "rest: " << x.rest);
            BOOST_TEST(x.responses[1].status == 200u);
            BOOST_TEST(x.responses[1].body == "ok");
            BOOST_TEST(x.rest.empty(), x.rest);
        }
    }
    // The headers are GET's: a page's length and type.
    const auto get = http_get(f.port(), "/");
    const auto head = http_raw_exchange(
        f.port(),
        "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        {http::verb::head}
    );
    BOOST_TEST_REQUIRE(head.responses.size() == 1u);
    BOOST_TEST(head.responses[0].status == 200u);
    BOOST_TEST(head.responses[0].header("Content-Length") == std::to_string(get.body.size()));
    BOOST_TEST(head.responses[0].header("Content-Type") == get.header("Content-Type"));
    BOOST_TEST(head.rest.empty(), head.rest);
}

} // namespace
} // namespace tokenrelay::test
