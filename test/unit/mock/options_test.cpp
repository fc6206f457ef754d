#include <boost/test/unit_test.hpp>

#include <string_view>
#include <testing/mock/options.hpp>
#include <vector>

namespace mock = tokenrelay::mock;

namespace {

mock::options_result parse(std::vector<std::string_view> args)
{
    return mock::parse_options(args);
}

} // namespace

BOOST_AUTO_TEST_SUITE(mock_options)

BOOST_AUTO_TEST_CASE(defaults)
{
    const auto r = parse({});
    BOOST_REQUIRE(r.value);
    BOOST_TEST(r.value->host == "127.0.0.1");
    BOOST_TEST(r.value->port == 0);
    BOOST_TEST(r.value->tls_cert.empty());
    BOOST_TEST(r.value->token_interval.count() == 0);
}

BOOST_AUTO_TEST_CASE(all_flags_in_both_spellings)
{
    const auto r = parse(
        {"--listen",
         "127.0.0.1:8081",
         "--tls-cert=c.pem",
         "--tls-key",
         "k.pem",
         "--token-interval-ms=15"}
    );
    BOOST_REQUIRE(r.value);
    BOOST_TEST(r.value->host == "127.0.0.1");
    BOOST_TEST(r.value->port == 8081);
    BOOST_TEST(r.value->tls_cert == "c.pem");
    BOOST_TEST(r.value->tls_key == "k.pem");
    BOOST_TEST(r.value->token_interval.count() == 15);
}

BOOST_AUTO_TEST_CASE(ipv6_listen_address)
{
    const auto r = parse({"--listen=[::1]:0"});
    BOOST_REQUIRE(r.value);
    BOOST_TEST(r.value->host == "::1");
}

BOOST_AUTO_TEST_CASE(bad_flags_name_the_flag)
{
    struct
    {
        std::vector<std::string_view> args;
        std::string_view error;
    } const cases[] = {
        {{"--port", "1"}, "unknown flag --port"},
        {{"--listen"}, "--listen needs a value"},
        {{"--listen", "localhost"}, "--listen: expected HOST:PORT, got localhost"},
        {{"--listen", "127.0.0.1:70000"}, "--listen: expected HOST:PORT, got 127.0.0.1:70000"},
        {{"--listen", ":80"}, "--listen: expected HOST:PORT, got :80"},
        {{"--token-interval-ms", "-5"},
         "--token-interval-ms: expected a non-negative integer, got -5"},
        {{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key must be given together"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.error)
        {
            const auto r = parse(c.args);
            BOOST_TEST(!r.value);
            BOOST_TEST(r.error == c.error);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
