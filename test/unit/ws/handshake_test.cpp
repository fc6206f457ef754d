// handshake: the accept key is RFC 6455's (section 1.3 example); a well-formed upgrade
// request is answered 101 with that key, another protocol version 426 naming version 13,
// and a missing or malformed key, a method other than GET or HTTP/1.0 400. Every answer
// is a complete HTTP response.
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/ws/handshake.hpp>

#include <boost/test/unit_test.hpp>

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

// The answer read back by Beast's parser: it must be one whole HTTP response.
http::response<http::string_body> parse(const std::string& bytes)
{
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    error_code ec;
    const auto used = parser.put(net::buffer(bytes), ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST(used == bytes.size());
    BOOST_TEST_REQUIRE(parser.is_done());
    return parser.release();
}

void check_refused(const handshake_answer& answer, http::status status)
{
    BOOST_TEST(!answer.accepted);
    const auto res = parse(answer.bytes);
    BOOST_TEST(res.result_int() == static_cast<unsigned>(status));
    BOOST_TEST(res[http::field::sec_websocket_accept].empty());
    BOOST_TEST(!res.body().empty()); // says why
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
    const handshake_answer answer = answer_upgrade(upgrade_request());
    BOOST_TEST(answer.accepted);
    BOOST_TEST(answer.bytes.starts_with("HTTP/1.1 101 "));
    BOOST_TEST(
        answer.bytes.find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") !=
        std::string::npos
    );
    BOOST_TEST(answer.bytes.ends_with("\r\n\r\n"));

    const auto res = parse(answer.bytes);
    BOOST_TEST((res.result() == http::status::switching_protocols));
    BOOST_TEST(beast::iequals(res[http::field::upgrade], "websocket"));
    BOOST_TEST(beast::iequals(res[http::field::connection], "upgrade"));
    BOOST_TEST(res[http::field::sec_websocket_accept] == rfc_accept);
}

BOOST_AUTO_TEST_CASE(other_protocol_version_gets_426_naming_13)
{
    auto req = upgrade_request();
    req.set(http::field::sec_websocket_version, "8");
    const handshake_answer answer = answer_upgrade(req);
    check_refused(answer, http::status::upgrade_required);
    BOOST_TEST(answer.bytes.starts_with("HTTP/1.1 426 "));
    BOOST_TEST(answer.bytes.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
    BOOST_TEST(parse(answer.bytes)[http::field::sec_websocket_version] == "13");
}

BOOST_AUTO_TEST_CASE(missing_version_is_not_accepted)
{
    auto req = upgrade_request();
    req.erase(http::field::sec_websocket_version);
    BOOST_TEST(!answer_upgrade(req).accepted);
}

BOOST_AUTO_TEST_CASE(missing_key_gets_400)
{
    auto req = upgrade_request();
    req.erase(http::field::sec_websocket_key);
    check_refused(answer_upgrade(req), http::status::bad_request);
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
            check_refused(answer_upgrade(req), http::status::bad_request);
        }
    }
}

BOOST_AUTO_TEST_CASE(post_gets_400)
{
    auto req = upgrade_request();
    req.method(http::verb::post);
    check_refused(answer_upgrade(req), http::status::bad_request);
}

BOOST_AUTO_TEST_CASE(http_1_0_gets_400)
{
    auto req = upgrade_request();
    req.version(10);
    check_refused(answer_upgrade(req), http::status::bad_request);
}

} // namespace
} // namespace tokenrelay::ws
