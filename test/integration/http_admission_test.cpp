// What every HTTP request passes on its way (PROTOCOL.md section 1): the framing rules of
// RFC 9112 that keep one request from hiding another (request smuggling), and answers to
// HEAD that carry no body. Each case writes raw bytes on one connection and reads every
// answer it gets, so an extra answer or a connection left open shows.

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
