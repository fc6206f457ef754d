#include <tokenrelay/session/history.hpp>
#include <tokenrelay/session/rate_limiter.hpp>

#include <boost/test/unit_test.hpp>

using tokenrelay::chat_turn;
using tokenrelay::session::history;
using tokenrelay::session::rate_limiter;

BOOST_AUTO_TEST_SUITE(rate_limiter_suite)

BOOST_AUTO_TEST_CASE(allows_a_burst_then_refuses_with_the_wait)
{
    rate_limiter limiter(3); // 3 per minute: one every 20 s
    BOOST_TEST(!limiter.try_take(1000).has_value());
    BOOST_TEST(!limiter.try_take(1000).has_value());
    BOOST_TEST(!limiter.try_take(1000).has_value());
    const auto wait = limiter.try_take(1000);
    BOOST_REQUIRE(wait.has_value());
    BOOST_TEST(*wait == 20000);
    // Half the refill later, half the wait remains.
    const auto later = limiter.try_take(11000);
    BOOST_REQUIRE(later.has_value());
    BOOST_TEST(*later == 10000);
    BOOST_TEST(!limiter.try_take(21000).has_value());
    BOOST_TEST(limiter.try_take(21000).has_value());
}

BOOST_AUTO_TEST_CASE(zero_disables_the_limit)
{
    rate_limiter limiter(0);
    for (int i = 0; i < 1000; ++i)
        BOOST_TEST(!limiter.try_take(0).has_value());
}

BOOST_AUTO_TEST_CASE(refill_is_capped_at_the_burst)
{
    rate_limiter limiter(2);
    BOOST_TEST(!limiter.try_take(0).has_value());
    BOOST_TEST(!limiter.try_take(0).has_value());
    // An hour idle refills to 2, not 120.
    BOOST_TEST(!limiter.try_take(3600000).has_value());
    BOOST_TEST(!limiter.try_take(3600000).has_value());
    BOOST_TEST(limiter.try_take(3600000).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(history_suite)

BOOST_AUTO_TEST_CASE(drops_oldest_turns_past_the_count)
{
    history h(3, 1 << 20);
    for (int i = 0; i < 5; ++i)
        h.add({"user", "m" + std::to_string(i)});
    const auto turns = h.turns();
    BOOST_REQUIRE(turns.size() == 3u);
    BOOST_TEST(turns[0].content == "m2");
    BOOST_TEST(turns[2].content == "m4");
}

BOOST_AUTO_TEST_CASE(drops_oldest_turns_past_the_bytes)
{
    history h(100, 10);
    h.add({"user", "aaaa"});
    h.add({"assistant", "bbbb"});
    h.add({"user", "cccc"});
    const auto turns = h.turns();
    BOOST_REQUIRE(turns.size() == 2u);
    BOOST_TEST(turns[0].content == "bbbb");
    BOOST_TEST(h.bytes() == 8u);
}

BOOST_AUTO_TEST_SUITE_END()
