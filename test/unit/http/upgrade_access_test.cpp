#include <tokenrelay/http/upgrade_access.hpp>

#include <boost/test/unit_test.hpp>

using tokenrelay::http_server::check_upgrade;
using tokenrelay::http_server::upgrade_credentials;
using tokenrelay::http_server::upgrade_verdict;

BOOST_AUTO_TEST_SUITE(upgrade_access_suite)

BOOST_AUTO_TEST_CASE(open_relay_allows_clients_without_origin)
{
    BOOST_TEST((check_upgrade({"", "", "", "127.0.0.1:8080"}, "", {}) == upgrade_verdict::allowed));
}

BOOST_AUTO_TEST_CASE(client_token_from_header_or_query)
{
    const std::string token = "s3cret-token";
    BOOST_TEST((check_upgrade({"", "", "", "h"}, token, {}) == upgrade_verdict::unauthorized));
    BOOST_TEST(
        (check_upgrade({"Bearer s3cret-token", "", "", "h"}, token, {}) == upgrade_verdict::allowed)
    );
    BOOST_TEST(
        (check_upgrade({"bearer s3cret-token", "", "", "h"}, token, {}) == upgrade_verdict::allowed)
    );
    BOOST_TEST((check_upgrade({"", "s3cret-token", "", "h"}, token, {}) == upgrade_verdict::allowed)
    );
    BOOST_TEST(
        (check_upgrade({"Bearer s3cret-tokem", "", "", "h"}, token, {}) ==
         upgrade_verdict::unauthorized)
    );
    BOOST_TEST(
        (check_upgrade({"Basic s3cret-token", "", "", "h"}, token, {}) ==
         upgrade_verdict::unauthorized)
    );
    BOOST_TEST((check_upgrade({"", "s3cret", "", "h"}, token, {}) == upgrade_verdict::unauthorized)
    );
}

BOOST_AUTO_TEST_CASE(default_origin_is_the_relays_own)
{
    const upgrade_credentials own{"", "", "http://localhost:8080", "localhost:8080"};
    BOOST_TEST((check_upgrade(own, "", {}) == upgrade_verdict::allowed));
    const upgrade_credentials behind_tls{"", "", "https://chat.example", "chat.example"};
    BOOST_TEST((check_upgrade(behind_tls, "", {}) == upgrade_verdict::allowed));
    const upgrade_credentials other{"", "", "http://evil.example", "localhost:8080"};
    BOOST_TEST((check_upgrade(other, "", {}) == upgrade_verdict::forbidden_origin));
    const upgrade_credentials other_port{"", "", "http://localhost:9999", "localhost:8080"};
    BOOST_TEST((check_upgrade(other_port, "", {}) == upgrade_verdict::forbidden_origin));
    const upgrade_credentials garbage{"", "", "null", "localhost:8080"};
    BOOST_TEST((check_upgrade(garbage, "", {}) == upgrade_verdict::forbidden_origin));
}

BOOST_AUTO_TEST_CASE(configured_origins_replace_the_default)
{
    const std::vector<std::string> allowed{"https://chat.example.com"};
    BOOST_TEST(
        (check_upgrade({"", "", "https://chat.example.com", "relay:8080"}, "", allowed) ==
         upgrade_verdict::allowed)
    );
    BOOST_TEST(
        (check_upgrade({"", "", "HTTPS://Chat.Example.com:443", "relay:8080"}, "", allowed) ==
         upgrade_verdict::allowed)
    );
    BOOST_TEST(
        (check_upgrade({"", "", "http://relay:8080", "relay:8080"}, "", allowed) ==
         upgrade_verdict::forbidden_origin)
    );
}

BOOST_AUTO_TEST_CASE(token_is_checked_before_origin)
{
    BOOST_TEST(
        (check_upgrade({"", "", "http://evil.example", "h"}, "t", {}) ==
         upgrade_verdict::unauthorized)
    );
}

BOOST_AUTO_TEST_SUITE_END()
