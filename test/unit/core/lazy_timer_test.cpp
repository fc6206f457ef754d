// lazy_timer: nothing is made until a wait needs the timer, a cancel before that is a
// no-op, and afterwards it is the one timer, whose cancel ends a pending wait (also one
// that waits until cancelled).
#include <tokenrelay/core/lazy_timer.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace tokenrelay {
namespace {

using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(cancel_before_first_use_makes_nothing)
{
    lazy_timer t;
    t.cancel();
    BOOST_TEST(!t.made());
}

BOOST_AUTO_TEST_CASE(get_makes_one_timer_on_the_given_executor)
{
    net::io_context ioc;
    lazy_timer t;
    auto& first = t.get(ioc.get_executor());
    BOOST_TEST(t.made());
    BOOST_TEST(&t.get(ioc.get_executor()) == &first);
    BOOST_TEST((first.get_executor() == net::any_io_executor(ioc.get_executor())));
}

BOOST_AUTO_TEST_CASE(cancel_ends_a_pending_wait)
{
    net::io_context ioc;
    lazy_timer t;
    auto& timer = t.get(ioc.get_executor());
    timer.expires_after(60s);
    error_code got;
    bool done = false;
    timer.async_wait([&](error_code ec) {
        got = ec;
        done = true;
    });
    t.cancel();
    ioc.run_for(10s);
    BOOST_TEST(done);
    BOOST_TEST(got == net::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(wait_until_cancelled_has_no_expiry_and_ends_on_cancel)
{
    net::io_context ioc;
    lazy_timer t;
    error_code got;
    bool done = false;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            auto [ec] = co_await t.wait_until_cancelled(ioc.get_executor());
            got = ec;
            done = true;
        },
        net::detached
    );
    ioc.poll(); // the coroutine is now waiting
    BOOST_TEST_REQUIRE(t.made());
    BOOST_TEST(!done);
    BOOST_TEST((t.get(ioc.get_executor()).expiry() == net::steady_timer::time_point::max()));
    t.cancel();
    ioc.run_for(10s);
    BOOST_TEST(done);
    BOOST_TEST(got == net::error::operation_aborted);
}

} // namespace
} // namespace tokenrelay
