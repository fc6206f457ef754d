// runtime/connection_set: the connection limits (PROTOCOL.md section 7) and the shutdown
// close of every open connection (section 2).
#include <tokenrelay/runtime/connection_set.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>

using namespace tokenrelay;
using runtime::reserve_result;

namespace {

struct counted_connection final : runtime::open_connection
{
    int closed = 0;
    void close_for_shutdown() override { ++closed; }
};

} // namespace

BOOST_AUTO_TEST_SUITE(connection_set_tests)

BOOST_AUTO_TEST_CASE(the_total_and_per_address_limits_refuse_and_free)
{
    drain_watch drain;
    runtime::connection_set set(drain);
    BOOST_TEST((set.try_reserve("a", 3, 2) == reserve_result::reserved));
    BOOST_TEST((set.try_reserve("a", 3, 2) == reserve_result::reserved));
    BOOST_TEST((set.try_reserve("a", 3, 2) == reserve_result::over_per_ip));
    BOOST_TEST((set.try_reserve("b", 3, 2) == reserve_result::reserved));
    BOOST_TEST((set.try_reserve("c", 3, 2) == reserve_result::over_total));
    set.release("a");
    BOOST_TEST((set.try_reserve("c", 3, 2) == reserve_result::reserved));
    BOOST_TEST((set.try_reserve("a", 4, 2) == reserve_result::reserved));
}

BOOST_AUTO_TEST_CASE(a_refused_address_holds_no_slot)
{
    drain_watch drain;
    runtime::connection_set set(drain);
    BOOST_TEST((set.try_reserve("a", 5, 0) == reserve_result::over_per_ip));
    for (int i = 0; i < 5; ++i)
        BOOST_TEST((set.try_reserve("b", 5, 5) == reserve_result::reserved));
}

BOOST_AUTO_TEST_CASE(close_all_reaches_every_open_connection_once)
{
    drain_watch drain;
    runtime::connection_set set(drain);
    auto a = std::make_shared<counted_connection>();
    auto b = std::make_shared<counted_connection>();
    auto gone = std::make_shared<counted_connection>();
    set.add(a);
    set.add(b);
    set.add(gone);
    set.remove(gone);
    BOOST_TEST(set.size() == 2u);
    set.close_all();
    BOOST_TEST(a->closed == 1);
    BOOST_TEST(b->closed == 1);
    BOOST_TEST(gone->closed == 0);
}

BOOST_AUTO_TEST_SUITE_END()
