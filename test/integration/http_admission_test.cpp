// What every HTTP request passes on its way (PROTOCOL.md section 1): answers to HEAD that
// carry no body. Each case writes raw bytes on one connection and reads every answer it
// gets, so an extra answer or a connection left open shows.

#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

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
