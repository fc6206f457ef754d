// handshake: the accept key is RFC 6455's (section 1.3 example); a well-formed upgrade
// request is answered 101 with that key as a complete HTTP response; another protocol
// version is refused with 426, and a missing or malformed key, a method other than GET or
// HTTP/1.0 with 400.
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/ws/handshake.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <string_view>

namespace tokenrelay::ws {
namespace {

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

http::request<http::string_body> upgrade_request()
{
    http::request<http::string_body> req{http::verb::get, "/ws", 11};
    req.set(http::field::host, "relay.example");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, rfc_key);
    req.set(http::field::sec_websocket_version, "13");
    return req;
}

void check_refused(const handshake_check& check, http::status status)
{
    BOOST_TEST((check.status == status));
    BOOST_TEST(!check.reason.empty()); // says why
}

BOOST_AUTO_TEST_CASE(accept_key_matches_the_rfc_example)
{
    BOOST_TEST(accept_key(rfc_key) == rfc_accept);
}

BOOST_AUTO_TEST_CASE(accept_key_of_another_key)
{
    // base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), computed with Python's
    // hashlib and base64 modules.
    BOOST_TEST(accept_key("AQIDBAUGBwgJCgsMDQ4PEA==") == "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=");
}

BOOST_AUTO_TEST_CASE(valid_request_is_switched_with_the_accept_key)
{
    const auto request = upgrade_request();
    BOOST_TEST((check_handshake(request).status == http::status::switching_protocols));

    // Serialised and read back by Beast's parser: one whole HTTP response.
    auto res = switching_protocols(request);
    std::ostringstream wire;
    wire << res;
    const auto bytes = wire.str();
    BOOST_TEST(bytes.starts_with("HTTP/1.1 101 "));
    BOOST_TEST(bytes.ends_with("\r\n\r\n"));
    http::response_parser<http::empty_body> parser;
    parser.skip(true); // a 101 has no body
    error_code ec;
    const auto used = parser.put(net::buffer(bytes), ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST(used == bytes.size());
    const auto parsed = parser.release();
    BOOST_TEST((parsed.result() == http::status::switching_protocols));
    BOOST_TEST(beast::iequals(parsed[http::field::upgrade], "websocket"));
    BOOST_TEST(beast::iequals(parsed[http::field::connection], "upgrade"));
    BOOST_TEST(parsed[http::field::sec_websocket_accept] == rfc_accept);
}

BOOST_AUTO_TEST_CASE(other_protocol_version_gets_426)
{
    // The refusal itself, naming version 13, is written by the HTTP layer
    // (test/integration/websocket_test.cpp, handshake_answers).
    auto req = upgrade_request();
    req.set(http::field::sec_websocket_version, "8");
    check_refused(check_handshake(req), http::status::upgrade_required);
}

BOOST_AUTO_TEST_CASE(missing_version_is_not_accepted)
{
    auto req = upgrade_request();
    req.erase(http::field::sec_websocket_version);
    BOOST_TEST((check_handshake(req).status != http::status::switching_protocols));
}

BOOST_AUTO_TEST_CASE(missing_key_gets_400)
{
    auto req = upgrade_request();
    req.erase(http::field::sec_websocket_key);
    check_refused(check_handshake(req), http::status::bad_request);
}

BOOST_AUTO_TEST_CASE(malformed_keys_get_400)
{
    for (const std::string_view key : {
             std::string_view(""),
             std::string_view("abc"),
             std::string_view("dGhlIHNhbXBsZSBub25jZQ="),   // 23 characters
             std::string_view("dGhlIHNhbXBsZSBub25jZQ==="), // 25 characters
             std::string_view("dGhlIHNhbXBsZSBub25jZQAA"),  // 24 characters, not 16 bytes
             std::string_view("AAAAAAAAAAAAAAAAAAAAAAA="),  // 17 bytes
             std::string_view("dGhlIHNhbXBsZSBub25j!Q=="),  // not base64
             std::string_view("dGhlIHNhbXBsZSBub25j Q=="),
         }) {
        BOOST_TEST_CONTEXT("key \"" << key << '"')
        {
            auto req = upgrade_request();
            req.set(http::field::sec_websocket_key, key);
            check_refused(check_handshake(req), http::status::bad_request);
        }
    }
}

BOOST_AUTO_TEST_CASE(post_gets_400)
{
    auto req = upgrade_request();
    req.method(http::verb::post);
    check_refused(check_handshake(req), http::status::bad_request);
}

BOOST_AUTO_TEST_CASE(http_1_0_gets_400)
{
    auto req = upgrade_request();
    req.version(10);
    check_refused(check_handshake(req), http::status::bad_request);
}

} // namespace
} // namespace tokenrelay::ws
