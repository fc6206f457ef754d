#include <tokenrelay/http/bearer.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using tokenrelay::http_server::bearer_matches;

BOOST_AUTO_TEST_SUITE(bearer_suite)

BOOST_AUTO_TEST_CASE(only_the_bearer_scheme_with_the_exact_token)
{
    struct row
    {
        std::string authorization;
        bool matches;
    };
    const std::vector<row> rows{
        {"Bearer s3cret-Tok.en", true},
        {"bearer s3cret-Tok.en", true},
        {"BEARER s3cret-Tok.en", true},
        {"Bearer s3cret-tok.en", false}, // the token's case counts
        {"Bearer s3cret-Tok.e", false},
        {"Bearer s3cret-Tok.enx", false},
        {"Bearer  s3cret-Tok.en", false},
        {"Bearer s3cret-Tok.en ", false},
        {"Bearers3cret-Tok.en", false},
        {"Basic s3cret-Tok.en", false},
        {"s3cret-Tok.en", false},
        {"Bearer ", false},
        {"", false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("Authorization: " << r.authorization)
        {
            BOOST_TEST(bearer_matches(r.authorization, "s3cret-Tok.en") == r.matches);
        }
    }
}

BOOST_AUTO_TEST_CASE(no_token_configured_matches_nothing)
{
    BOOST_TEST(!bearer_matches("Bearer ", ""));
    BOOST_TEST(!bearer_matches("Bearer x", ""));
}

BOOST_AUTO_TEST_SUITE_END()
