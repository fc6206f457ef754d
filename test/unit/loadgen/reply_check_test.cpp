#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/loadgen/reply_check.hpp>
#include <vector>

namespace loadgen = tokenrelay::loadgen;

BOOST_AUTO_TEST_SUITE(loadgen_reply_check)

BOOST_AUTO_TEST_CASE(plain_reply_is_exact)
{
    loadgen::reply_check c(3);
    std::vector<std::int64_t> stamps;
    BOOST_TEST(c.feed("w0 ", stamps) == 1u);
    BOOST_TEST(c.feed("w1 w2 ", stamps) == 2u); // a joined frame (PROTOCOL.md section 5)
    BOOST_TEST(c.exact());
    BOOST_TEST(stamps.empty());
}

BOOST_AUTO_TEST_CASE(stamps_are_collected_at_every_split)
{
    const std::string text = "w0@1700000000000001 w1@1700000000000002 w2@1700000000000003 ";
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        BOOST_TEST_CONTEXT("cut at " << cut)
        {
            loadgen::reply_check c(3);
            std::vector<std::int64_t> stamps;
            const auto n = c.feed(text.substr(0, cut), stamps) + c.feed(text.substr(cut), stamps);
            BOOST_TEST(n == 3u);
            BOOST_TEST(c.exact());
            const std::vector<std::int64_t> expected{
                1700000000000001, 1700000000000002, 1700000000000003};
            BOOST_TEST(stamps == expected, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(wrong_replies_are_not_exact)
{
    struct
    {
        const char* text;
        std::size_t expected;
    } const cases[] = {
        {"w0 w1 ", 3},        // missing the last token
        {"w0 w1 w2 w3 ", 3},  // one too many
        {"w0 w2 w1 ", 3},     // out of order
        {"w0 w1 w1 ", 3},     // duplicate
        {"w0 w1 w2", 3},      // last token unterminated
        {"x0 w1 w2 ", 3},     // not a mock token
        {"w0@12a w1 w2 ", 3}, // bad stamp
        {"w0 w1@ w2 ", 3},    // empty stamp
        {"w0  w1 w2 ", 3},    // an empty token
    };
    for (const auto& tc : cases) {
        BOOST_TEST_CONTEXT(tc.text)
        {
            loadgen::reply_check c(tc.expected);
            std::vector<std::int64_t> stamps;
            c.feed(tc.text, stamps);
            BOOST_TEST(!c.exact());
        }
    }
}

BOOST_AUTO_TEST_CASE(consistent_until_the_end)
{
    loadgen::reply_check c(3);
    std::vector<std::int64_t> stamps;
    c.feed("w0 w1 ", stamps);
    BOOST_TEST(c.consistent());
    BOOST_TEST(!c.exact());
    c.feed("w3 ", stamps);
    BOOST_TEST(!c.consistent());
    BOOST_TEST(c.tokens() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
