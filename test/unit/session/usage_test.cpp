// stream_end.usage (PROTOCOL.md section 2): the upstream's count when given, the relay's
// estimate otherwise, and its cost at the configured prices.

#include <tokenrelay/session/usage.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

using tokenrelay::chat_turn;
using tokenrelay::token_usage;
namespace ts = tokenrelay::session;

BOOST_AUTO_TEST_SUITE(usage_suite)

BOOST_AUTO_TEST_CASE(prompt_estimate_is_characters_over_four_at_least_one)
{
    BOOST_TEST(ts::estimate_prompt_tokens({}) == 1);
    BOOST_TEST(ts::estimate_prompt_tokens({{"user", "abc"}}) == 1);
    BOOST_TEST(ts::estimate_prompt_tokens({{"user", "abcdefgh"}}) == 2);
    // Every message counts, roles do not; 7 + 6 = 13 characters -> 3.
    BOOST_TEST(ts::estimate_prompt_tokens({{"system", "be nice"}, {"user", "hello!"}}) == 3);
    // Characters, not bytes: "héllo wörld" is 11 code points in 13 bytes -> 2, not 3.
    BOOST_TEST(ts::estimate_prompt_tokens({{"user", "h\xC3\xA9llo w\xC3\xB6rld"}}) == 2);
    // Four 4-byte emoji are 4 characters -> 1.
    BOOST_TEST(
        ts::estimate_prompt_tokens(
            {{"user", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"}}
        ) == 1
    );
    BOOST_TEST(ts::estimate_prompt_tokens({{"user", std::string(4000, 'a')}}) == 1000);
}

BOOST_AUTO_TEST_CASE(upstream_usage_wins_over_the_estimate)
{
    const auto given = ts::resolve_usage(token_usage{12, 34}, 99, 7);
    BOOST_TEST(given.tokens.prompt_tokens == 12);
    BOOST_TEST(given.tokens.completion_tokens == 34);
    BOOST_TEST(!given.estimated);

    const auto counted = ts::resolve_usage(std::nullopt, 99, 7);
    BOOST_TEST(counted.tokens.prompt_tokens == 99);
    BOOST_TEST(counted.tokens.completion_tokens == 7);
    BOOST_TEST(counted.estimated);

    // An upstream that says zero is believed, not replaced by a count.
    const auto zero = ts::resolve_usage(token_usage{0, 0}, 5, 3);
    BOOST_TEST(zero.tokens.prompt_tokens == 0);
    BOOST_TEST(zero.tokens.completion_tokens == 0);
    BOOST_TEST(!zero.estimated);
}

BOOST_AUTO_TEST_CASE(cost_is_tokens_times_price_per_million)
{
    const ts::usage_prices prices{1, 2};
    BOOST_TEST(prices.priced());
    BOOST_TEST(!(ts::usage_prices{}.priced()));
    BOOST_TEST((ts::usage_prices{0, 0.5}.priced()));
    BOOST_TEST(ts::cost_usd({1'000'000, 0}, prices) == 1.0);
    BOOST_TEST(ts::cost_usd({0, 1'000'000}, prices) == 2.0);
    BOOST_TEST(ts::cost_usd({500'000, 250'000}, prices) == 1.0);
    BOOST_TEST(ts::format_cost_usd(ts::cost_usd({3, 8}, prices)) == "0.000019");
    BOOST_TEST(ts::format_cost_usd(ts::cost_usd({1000, 500}, {0.27, 1.1})) == "0.00082");
}

BOOST_AUTO_TEST_CASE(cost_formatting_is_fixed_point_without_trailing_zeros)
{
    BOOST_TEST(ts::format_cost_usd(0) == "0");
    BOOST_TEST(ts::format_cost_usd(-1) == "0");
    BOOST_TEST(ts::format_cost_usd(1) == "1");
    BOOST_TEST(ts::format_cost_usd(1.5) == "1.5");
    BOOST_TEST(ts::format_cost_usd(123.25) == "123.25");
    BOOST_TEST(ts::format_cost_usd(0.000001) == "0.000001");
    // Binary noise past the 12th decimal is rounded away.
    BOOST_TEST(ts::format_cost_usd(1.9000000000000001e-05) == "0.000019");
    BOOST_TEST(ts::format_cost_usd(0.1 + 0.2) == "0.3");
    BOOST_TEST(ts::format_cost_usd(1e-12) == "0.000000000001");
    BOOST_TEST(ts::format_cost_usd(4e-13) == "0");
}

BOOST_AUTO_TEST_CASE(micro_dollars_round_to_nearest)
{
    BOOST_TEST(ts::to_micro_usd(0) == 0u);
    BOOST_TEST(ts::to_micro_usd(-3) == 0u);
    BOOST_TEST(ts::to_micro_usd(0.000019) == 19u);
    BOOST_TEST(ts::to_micro_usd(1.9000000000000001e-05) == 19u);
    BOOST_TEST(ts::to_micro_usd(2.5) == 2'500'000u);
    BOOST_TEST(ts::to_micro_usd(0.0000004) == 0u);
    BOOST_TEST(ts::to_micro_usd(0.0000006) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
