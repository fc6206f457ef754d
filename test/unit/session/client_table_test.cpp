// client_table: what one client may hold, and that only its own sessions and replies are
// ended to make room (PROTOCOL.md section 7).
#include <tokenrelay/session/client_table.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

namespace tokenrelay::session {
namespace {

using member = client_table::member;

member make_member()
{
    return std::make_shared<int>(0);
}

client_limits
limits(std::size_t sessions, std::size_t generations, std::size_t detached, unsigned rate)
{
    return {sessions, generations, detached, rate};
}

BOOST_AUTO_TEST_SUITE(client_table_suite)

BOOST_AUTO_TEST_CASE(past_its_bound_a_client_ends_its_own_oldest_detached_session)
{
    client_table t(limits(2, 10, 100, 0));
    const auto a = make_member(), b = make_member(), other = make_member(), c = make_member();
    BOOST_TEST(!t.add_session(a, "1.1.1.1", 0));
    BOOST_TEST(!t.add_session(b, "1.1.1.1", 0));
    BOOST_TEST(!t.add_session(other, "2.2.2.2", 0));
    t.session_detached(other); // another client's detached session is never the one ended
    t.session_detached(b);
    t.session_detached(a); // b detached first: b is the oldest
    BOOST_TEST(t.may_add_session("1.1.1.1"));
    BOOST_TEST(t.add_session(c, "1.1.1.1", 0) == b);
    t.remove_session(b.get());
    BOOST_TEST(t.sessions_of("1.1.1.1") == 2u);
    BOOST_TEST(t.sessions_of("2.2.2.2") == 1u);
}

BOOST_AUTO_TEST_CASE(a_client_whose_sessions_all_have_a_connection_may_not_add_one)
{
    client_table t(limits(2, 10, 100, 0));
    const auto a = make_member(), b = make_member();
    t.add_session(a, "1.1.1.1", 0);
    t.add_session(b, "1.1.1.1", 0);
    BOOST_TEST(!t.may_add_session("1.1.1.1"));
    BOOST_TEST(t.may_add_session("2.2.2.2"));
    t.session_detached(a);
    BOOST_TEST(t.may_add_session("1.1.1.1"));
    t.session_attached(a.get());
    BOOST_TEST(!t.may_add_session("1.1.1.1"));
}

BOOST_AUTO_TEST_CASE(past_the_bound_on_detached_sessions_the_oldest_of_all_ends)
{
    client_table t(limits(100, 10, 2, 0));
    const auto a = make_member(), b = make_member(), c = make_member();
    t.add_session(a, "1.1.1.1", 0);
    t.add_session(b, "2.2.2.2", 0);
    t.add_session(c, "3.3.3.3", 0);
    BOOST_TEST(!t.session_detached(a));
    BOOST_TEST(!t.session_detached(b));
    BOOST_TEST(t.session_detached(c) == a);
    BOOST_TEST(t.totals().detached_sessions == 2u);
}

BOOST_AUTO_TEST_CASE(past_its_reply_bound_a_client_cancels_its_oldest_detached_reply)
{
    client_table t(limits(100, 2, 100, 0));
    const auto a = make_member(), b = make_member(), c = make_member(), other = make_member();
    for (const auto& m : {a, b, c})
        t.add_session(m, "1.1.1.1", 0);
    t.add_session(other, "2.2.2.2", 0);
    auto other_reply = t.admit_generation("2.2.2.2", 0, other.get());
    t.session_detached(other);
    auto ra = t.admit_generation("1.1.1.1", 0, a.get());
    auto rb = t.admit_generation("1.1.1.1", 0, b.get());
    BOOST_TEST(static_cast<bool>(ra.ticket));
    BOOST_TEST(static_cast<bool>(rb.ticket));

    // Both running replies have a connection: the third waits.
    auto refused = t.admit_generation("1.1.1.1", 0, c.get());
    BOOST_TEST(!refused.ticket);
    BOOST_TEST((refused.refusal == errc::rate_limited));
    BOOST_TEST(refused.retry_after_ms > 0);
    BOOST_TEST(!refused.to_cancel);

    // b's client went away: b's reply makes room, and is not offered twice.
    t.session_detached(b);
    auto admitted = t.admit_generation("1.1.1.1", 0, c.get());
    BOOST_TEST(static_cast<bool>(admitted.ticket));
    BOOST_TEST(admitted.to_cancel == b);
    BOOST_TEST(!t.admit_generation("1.1.1.1", 0, nullptr).ticket);
    BOOST_TEST(t.generations_of("1.1.1.1") == 3u); // b's counts until it has ended
    rb.ticket.reset();
    BOOST_TEST(t.generations_of("1.1.1.1") == 2u);
    BOOST_TEST(t.generations_of("2.2.2.2") == 1u);
}

BOOST_AUTO_TEST_CASE(a_new_session_does_not_reset_the_client_rate)
{
    client_table t(limits(100, 100, 100, 2));
    std::vector<generation_ticket> held;
    for (int i = 0; i < 2; ++i) {
        const auto m = make_member();
        t.add_session(m, "1.1.1.1", 1000);
        auto a = t.admit_generation("1.1.1.1", 1000, m.get());
        BOOST_TEST_REQUIRE(static_cast<bool>(a.ticket));
        a.ticket.reset();
    }
    const auto fresh = make_member();
    t.add_session(fresh, "1.1.1.1", 1000);
    const auto refused = t.admit_generation("1.1.1.1", 1000, fresh.get());
    BOOST_TEST(!refused.ticket);
    BOOST_TEST(refused.retry_after_ms == 30000); // 2 per minute: one more in 30 s
    BOOST_TEST(static_cast<bool>(t.admit_generation("2.2.2.2", 1000, nullptr).ticket));
    BOOST_TEST(static_cast<bool>(t.admit_generation("1.1.1.1", 31000, fresh.get()).ticket));
}

BOOST_AUTO_TEST_CASE(a_chat_given_back_costs_neither_a_reply_nor_a_message)
{
    client_table t(limits(100, 1, 100, 1));
    auto a = t.admit_generation("1.1.1.1", 0, nullptr);
    BOOST_TEST_REQUIRE(static_cast<bool>(a.ticket));
    a.ticket.give_back();
    BOOST_TEST(t.generations_of("1.1.1.1") == 0u);
    BOOST_TEST(static_cast<bool>(t.admit_generation("1.1.1.1", 0, nullptr).ticket));
}

BOOST_AUTO_TEST_CASE(removing_is_idempotent_and_an_idle_client_is_forgotten)
{
    client_table t(limits(100, 10, 100, 0));
    const auto a = make_member();
    t.add_session(a, "1.1.1.1", 0);
    t.session_detached(a);
    t.remove_session(a.get());
    t.remove_session(a.get());
    BOOST_TEST(t.sessions_of("1.1.1.1") == 0u);
    BOOST_TEST(t.totals().detached_sessions == 0u);
    BOOST_TEST(t.totals().clients == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::session
