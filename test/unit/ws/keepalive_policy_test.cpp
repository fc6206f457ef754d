// keepalive_policy (PROTOCOL.md section 5): every branch of next_deadline and due, with
// times given explicitly.
#include <tokenrelay/ws/keepalive_policy.hpp>

#include <boost/test/unit_test.hpp>

namespace tokenrelay::ws {
namespace {

using namespace std::chrono_literals;
using time_point = keepalive_policy::time_point;

const keepalive_config config{.ping_interval = 30s, .idle_timeout = 100s};
const time_point t0 = time_point{} + 1000s;

BOOST_AUTO_TEST_SUITE(keepalive_policy_suite)

BOOST_AUTO_TEST_CASE(a_fresh_connection_is_next_pinged_after_the_ping_interval)
{
    const keepalive_policy p(t0);
    BOOST_TEST((p.next_deadline(config) == t0 + 30s));
    BOOST_TEST((p.due(config, t0) == keepalive_action::none));
    BOOST_TEST((p.due(config, t0 + 29s) == keepalive_action::none));
    BOOST_TEST((p.due(config, t0 + 30s) == keepalive_action::ping));
}

BOOST_AUTO_TEST_CASE(a_write_moves_the_ping_but_not_the_silence_limit)
{
    keepalive_policy p(t0);
    p.on_write(t0 + 40s);
    p.on_write(t0 + 45s);
    BOOST_TEST((p.last_write() == t0 + 45s));
    // Half the idle timeout after the last read comes first now.
    BOOST_TEST((p.next_deadline(config) == t0 + 50s));
    BOOST_TEST((p.due(config, t0 + 49s) == keepalive_action::none));
    BOOST_TEST((p.due(config, t0 + 50s) == keepalive_action::ping));
}

BOOST_AUTO_TEST_CASE(a_silent_client_is_pinged_once_then_dropped_at_the_idle_timeout)
{
    keepalive_policy p(t0);
    p.on_write(t0 + 49s); // ping interval ends at 79 s: after half the idle timeout
    BOOST_TEST((p.due(config, t0 + 50s) == keepalive_action::ping));
    p.on_ping(t0 + 50s);
    // Pinged since the last read: the next deadline is the idle timeout's end, unless
    // the ping interval comes first.
    BOOST_TEST((p.next_deadline(config) == t0 + 80s));
    BOOST_TEST((p.due(config, t0 + 60s) == keepalive_action::none));
    BOOST_TEST((p.due(config, t0 + 80s) == keepalive_action::ping));
    p.on_ping(t0 + 80s);
    BOOST_TEST((p.next_deadline(config) == t0 + 100s));
    BOOST_TEST((p.due(config, t0 + 99s) == keepalive_action::none));
    BOOST_TEST((p.due(config, t0 + 100s) == keepalive_action::drop));
    BOOST_TEST((p.due(config, t0 + 500s) == keepalive_action::drop));
}

BOOST_AUTO_TEST_CASE(a_read_clears_the_ping_and_restarts_the_silence_clock)
{
    keepalive_policy p(t0);
    p.on_ping(t0 + 50s);
    p.on_read(t0 + 60s);
    // Not pinged since that read: half the idle timeout after it, or the ping interval.
    BOOST_TEST((p.next_deadline(config) == t0 + 80s));
    BOOST_TEST((p.due(config, t0 + 79s) == keepalive_action::none));
    BOOST_TEST((p.due(config, t0 + 80s) == keepalive_action::ping));
    p.on_write(t0 + 80s);
    BOOST_TEST((p.next_deadline(config) == t0 + 110s));
    BOOST_TEST((p.due(config, t0 + 110s) == keepalive_action::ping));
    BOOST_TEST((p.due(config, t0 + 160s) == keepalive_action::drop));
}

BOOST_AUTO_TEST_CASE(an_idle_timeout_shorter_than_the_ping_interval_rules)
{
    const keepalive_config short_idle{.ping_interval = 30s, .idle_timeout = 10s};
    keepalive_policy p(t0);
    BOOST_TEST((p.next_deadline(short_idle) == t0 + 5s));
    BOOST_TEST((p.due(short_idle, t0 + 5s) == keepalive_action::ping));
    p.on_ping(t0 + 5s);
    BOOST_TEST((p.next_deadline(short_idle) == t0 + 10s));
    BOOST_TEST((p.due(short_idle, t0 + 10s) == keepalive_action::drop));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::ws
