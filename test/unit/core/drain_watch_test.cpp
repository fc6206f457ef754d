// core/drain_watch: the drain's wait ends when the work it waits for ends, woken from
// another thread, without waiting for its deadline.
#include "support/run_coro.hpp"
#include "support/time_scale.hpp"
#include <tokenrelay/core/drain_watch.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace tokenrelay;
using clock_type = std::chrono::steady_clock;

BOOST_AUTO_TEST_SUITE(drain_watch_tests)

BOOST_AUTO_TEST_CASE(work_ended_on_another_thread_wakes_the_wait)
{
    drain_watch watch;
    net::io_context ioc;
    std::atomic<bool> ended{false};
    // Far enough that a wait that is not woken shows as a failed run_coro, not a pass.
    const auto deadline = clock_type::now() + std::chrono::hours(1);
    std::thread worker;
    auto wait = [&]() -> awaitable<void> {
        // Started from inside the wait's loop, so the end can come before or during it.
        worker = std::thread([&] {
            ended = true;
            watch.notify();
        });
        co_await watch.wait_until([&] { return ended.load(); }, deadline);
    };
    test::run_coro(ioc, wait(), test::scaled(std::chrono::seconds(10)));
    worker.join();
    BOOST_TEST(ended.load());
    BOOST_TEST((clock_type::now() < deadline));
}

BOOST_AUTO_TEST_CASE(each_notify_looks_again_until_done)
{
    drain_watch watch;
    net::io_context ioc;
    std::atomic<int> ended{0};
    // The work ends only after the wait's first look, which then sees none of it ended:
    // only the notifies can bring it to look again.
    std::promise<void> first_look;
    std::thread worker([&, looked = first_look.get_future()]() mutable {
        looked.wait();
        for (int i = 0; i < 3; ++i) {
            ended.fetch_add(1);
            watch.notify();
        }
    });
    int looks = 0;
    auto done = [&] {
        const bool all_ended = ended.load() == 3; // read before the work may start
        if (++looks == 1)
            first_look.set_value();
        return all_ended;
    };
    test::run_coro(
        ioc,
        watch.wait_until(done, clock_type::now() + std::chrono::hours(1)),
        test::scaled(std::chrono::seconds(10))
    );
    worker.join();
    BOOST_TEST(ended.load() == 3);
    BOOST_TEST(looks >= 2); // the first look, and at least the one after the last end
}

BOOST_AUTO_TEST_CASE(the_deadline_ends_a_wait_nothing_wakes)
{
    drain_watch watch;
    net::io_context ioc;
    const auto deadline = clock_type::now() + std::chrono::milliseconds(50);
    test::run_coro(
        ioc,
        watch.wait_until([] { return false; }, deadline),
        test::scaled(std::chrono::seconds(10))
    );
    BOOST_TEST((clock_type::now() >= deadline));
}

BOOST_AUTO_TEST_CASE(completions_are_counted_while_guarded)
{
    drain_watch watch;
    {
        drain_watch::completion_guard a(watch);
        drain_watch::completion_guard b(watch);
        BOOST_TEST(watch.completions_running() == 2u);
    }
    BOOST_TEST(watch.completions_running() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
