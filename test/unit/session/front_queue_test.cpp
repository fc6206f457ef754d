#include <tokenrelay/session/front_queue.hpp>

#include <boost/test/unit_test.hpp>

#include <iterator>
#include <memory>
#include <string>
#include <vector>

using tokenrelay::session::front_queue;

namespace {

std::vector<int> contents(const front_queue<int>& q)
{
    return {q.begin(), q.end()};
}

std::vector<int> indexed(const front_queue<int>& q)
{
    std::vector<int> out;
    for (std::size_t i = 0; i < q.size(); ++i)
        out.push_back(q[i]);
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(front_queue_suite)

BOOST_AUTO_TEST_CASE(a_new_queue_holds_no_storage)
{
    // Issue 7: an idle session's queues must not allocate.
    const front_queue<std::string> q;
    BOOST_TEST(q.empty());
    BOOST_TEST(q.size() == 0u);
    BOOST_TEST(q.capacity() == 0u);
    BOOST_TEST((q.begin() == q.end()));
}

BOOST_AUTO_TEST_CASE(pops_in_push_order)
{
    front_queue<int> q;
    for (int i = 1; i <= 5; ++i)
        q.push_back(i);
    BOOST_TEST(q.size() == 5u);
    BOOST_TEST(q.front() == 1);
    BOOST_TEST(q.back() == 5);

    q.pop_front();
    BOOST_TEST(q.front() == 2);
    q.push_back(6);
    q.pop_front();
    BOOST_TEST(q.front() == 3);
    BOOST_TEST(q.back() == 6);
    BOOST_TEST(contents(q) == (std::vector<int>{3, 4, 5, 6}));
}

BOOST_AUTO_TEST_CASE(indexing_and_iteration_skip_popped_elements)
{
    front_queue<int> q;
    for (int i = 0; i < 10; ++i)
        q.push_back(i);
    // Three pops leave a dead prefix shorter than the live part, so it is not compacted
    // yet: indices must still start at the first live element.
    for (int i = 0; i < 3; ++i)
        q.pop_front();
    BOOST_TEST(q.size() == 7u);
    BOOST_TEST(q[0] == 3);
    BOOST_TEST(q[6] == 9);
    BOOST_TEST(indexed(q) == (std::vector<int>{3, 4, 5, 6, 7, 8, 9}));
    BOOST_TEST(contents(q) == (std::vector<int>{3, 4, 5, 6, 7, 8, 9}));
    BOOST_TEST(std::distance(q.begin(), q.end()) == 7);

    q[0] = 30;
    *(q.begin() + 1) = 40;
    BOOST_TEST(q.front() == 30);
    BOOST_TEST(indexed(q) == (std::vector<int>{30, 40, 5, 6, 7, 8, 9}));
}

BOOST_AUTO_TEST_CASE(contents_survive_compaction)
{
    // Every pop count from 1 to 19 out of 20, so both sides of the compaction threshold
    // (dead prefix as long as the live part) are checked.
    for (int pops = 1; pops < 20; ++pops) {
        front_queue<int> q;
        for (int i = 0; i < 20; ++i)
            q.push_back(i);
        for (int i = 0; i < pops; ++i)
            q.pop_front();
        q.push_back(20);
        std::vector<int> expected;
        for (int i = pops; i <= 20; ++i)
            expected.push_back(i);
        BOOST_TEST(indexed(q) == expected, "pops=" << pops);
        BOOST_TEST(contents(q) == expected, "pops=" << pops);
        BOOST_TEST(q.front() == pops);
        BOOST_TEST(q.back() == 20);
    }
}

BOOST_AUTO_TEST_CASE(a_steady_fifo_reuses_its_storage)
{
    // A replay log at its byte bound pushes one entry and drops one, forever: without
    // compaction the dead prefix would grow the storage with every token.
    front_queue<int> q;
    for (int i = 0; i < 10; ++i)
        q.push_back(i);
    for (int i = 10; i < 100000; ++i) {
        q.push_back(i);
        q.pop_front();
        BOOST_REQUIRE(q.front() == i - 9);
    }
    BOOST_TEST(q.size() == 10u);
    BOOST_TEST(q.capacity() <= 32u);
    BOOST_TEST(
        indexed(q) ==
        (std::vector<int>{99990, 99991, 99992, 99993, 99994, 99995, 99996, 99997, 99998, 99999})
    );
}

BOOST_AUTO_TEST_CASE(storage_shrinks_when_a_long_run_is_trimmed_away)
{
    // A long reply dropped down to a short one must not keep the long one's capacity.
    front_queue<int> q;
    for (int i = 0; i < 10000; ++i)
        q.push_back(i);
    BOOST_TEST(q.capacity() >= 10000u);
    while (q.size() > 10)
        q.pop_front();
    BOOST_TEST(q.capacity() <= 64u);
    BOOST_TEST(
        indexed(q) == (std::vector<int>{9990, 9991, 9992, 9993, 9994, 9995, 9996, 9997, 9998, 9999})
    );
}

BOOST_AUTO_TEST_CASE(emptying_releases_the_storage)
{
    front_queue<int> q;
    for (int i = 0; i < 1000; ++i)
        q.push_back(i);
    while (!q.empty())
        q.pop_front();
    BOOST_TEST(q.size() == 0u);
    BOOST_TEST(q.capacity() == 0u);

    // Still usable afterwards.
    q.push_back(7);
    BOOST_TEST(q.size() == 1u);
    BOOST_TEST(q.front() == 7);
    BOOST_TEST(q.back() == 7);
}

BOOST_AUTO_TEST_CASE(pop_front_destroys_the_element_at_once)
{
    // A dropped replay-log entry must free its text now, not when the dead prefix is
    // compacted, or the log's byte bound would not bound memory.
    front_queue<std::shared_ptr<int>> q;
    std::vector<std::shared_ptr<int>> held;
    for (int i = 0; i < 10; ++i) {
        held.push_back(std::make_shared<int>(i));
        q.push_back(held.back());
    }
    q.pop_front(); // dead prefix 1 of 10: not compacted
    BOOST_TEST(held[0].use_count() == 1);
    BOOST_TEST(held[1].use_count() == 2);
    BOOST_TEST(*q.front() == 1);
}

BOOST_AUTO_TEST_CASE(clear_empties_and_releases)
{
    front_queue<std::shared_ptr<int>> q;
    const auto p = std::make_shared<int>(1);
    for (int i = 0; i < 100; ++i)
        q.push_back(p);
    q.pop_front();
    BOOST_TEST(p.use_count() == 100);
    q.clear();
    BOOST_TEST(q.empty());
    BOOST_TEST(q.size() == 0u);
    BOOST_TEST(q.capacity() == 0u);
    BOOST_TEST(p.use_count() == 1);
    q.push_back(p);
    BOOST_TEST(q.size() == 1u);
    BOOST_TEST(q.front() == p);
}

BOOST_AUTO_TEST_SUITE_END()
