#include <tokenrelay/upstream/request_slots.hpp>

#include <boost/test/unit_test.hpp>

#include <vector>

namespace tokenrelay::upstream {

BOOST_AUTO_TEST_SUITE(request_slots_tests)

BOOST_AUTO_TEST_CASE(refuses_past_the_limit_and_frees_on_release)
{
    request_slots slots(2);
    request_slot a(slots), b(slots), c(slots);
    BOOST_TEST(static_cast<bool>(a));
    BOOST_TEST(static_cast<bool>(b));
    BOOST_TEST(!c);
    BOOST_TEST(slots.in_use() == 2u);
    a.reset();
    BOOST_TEST(slots.in_use() == 1u);
    request_slot d(slots);
    BOOST_TEST(static_cast<bool>(d));
    BOOST_TEST(slots.in_use() == 2u);
}

BOOST_AUTO_TEST_CASE(moving_a_slot_keeps_one_count)
{
    request_slots slots(1);
    std::vector<request_slot> held;
    held.emplace_back(slots);
    request_slot moved = std::move(held.back());
    held.clear();
    BOOST_TEST(slots.in_use() == 1u);
    moved = request_slot{};
    BOOST_TEST(slots.in_use() == 0u);
}

BOOST_AUTO_TEST_CASE(zero_means_no_limit)
{
    request_slots slots(0);
    std::vector<request_slot> held;
    for (int i = 0; i < 1000; ++i)
        held.emplace_back(slots);
    BOOST_TEST(static_cast<bool>(held.back()));
    BOOST_TEST(slots.in_use() == 1000u);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
