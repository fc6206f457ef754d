#include <tokenrelay/upstream/retry_policy.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

namespace tokenrelay::upstream {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using delays = std::vector<std::optional<long long>>;

// Printable so a failed comparison shows the whole sequence.
struct delay_list
{
    delays items;
    bool operator==(delay_list const&) const = default;
};

std::ostream& operator<<(std::ostream& os, delay_list const& list)
{
    os << "[";
    for (auto const& d : list.items) {
        if (d) {
            os << *d << "ms ";
        } else {
            os << "give-up ";
        }
    }
    return os << "]";
}

// One wait or "give up", printable so a failed comparison shows both sides.
struct wait_result
{
    std::optional<milliseconds> value;

    wait_result(std::optional<milliseconds> v) : value(v) {}
    template <class Rep, class Period>
    wait_result(std::chrono::duration<Rep, Period> v)
        : value(std::chrono::duration_cast<milliseconds>(v))
    {}
    wait_result(std::nullopt_t) {}
    bool operator==(wait_result const&) const = default;
};

std::ostream& operator<<(std::ostream& os, wait_result const& w)
{
    if (w.value) {
        return os << w.value->count() << "ms";
    }
    return os << "give-up";
}

wait_result delay(retry_policy& policy, double unit_random, std::optional<milliseconds> retry_after)
{
    return policy.next_delay(unit_random, retry_after);
}

wait_result parsed(std::string_view value, std::chrono::system_clock::time_point now)
{
    return retry_policy::parse_retry_after(value, now);
}

retry_limits
limits(std::size_t max_retries, milliseconds budget, milliseconds base, milliseconds cap)
{
    retry_limits l;
    l.max_retries = max_retries;
    l.budget = budget;
    l.base = base;
    l.cap = cap;
    return l;
}

// Asks for `calls` delays with the same random number and no Retry-After.
delay_list run(retry_policy& policy, double unit_random, int calls)
{
    delay_list out;
    for (int i = 0; i < calls; ++i) {
        auto const d = policy.next_delay(unit_random, std::nullopt);
        out.items.push_back(d ? std::optional<long long>{d->count()} : std::nullopt);
    }
    return out;
}

// 2015-10-21 07:28:00 UTC, the RFC example date, as a time point.
std::chrono::system_clock::time_point const example_date =
    std::chrono::sys_days{std::chrono::year{2015} / std::chrono::October / 21} + 7h + 28min;

} // namespace

BOOST_AUTO_TEST_SUITE(upstream_retry_policy)

BOOST_AUTO_TEST_CASE(retryable_statuses)
{
    struct test_case
    {
        int status;
        bool retryable;
    };
    for (auto tc : std::vector<test_case>{
             {0, false},   {-1, false},  {200, false}, {204, false}, {301, false},
             {400, false}, {401, false}, {403, false}, {404, false}, {408, false},
             {428, false}, {429, true},  {430, false}, {499, false}, {500, true},
             {502, true},  {503, true},  {504, true},  {599, true},  {600, false},
         }) {
        BOOST_TEST_CONTEXT("status " << tc.status)
        {
            BOOST_TEST(retry_policy::retryable_status(tc.status) == tc.retryable);
        }
    }
}

BOOST_AUTO_TEST_CASE(full_jitter_delays_with_default_limits)
{
    // Default limits: base 250 ms doubling (250, 500, 1000, 2000), 4 retries.
    struct test_case
    {
        double unit_random;
        delay_list expected;
    };
    for (auto const& tc : std::vector<test_case>{
             {0.0, {{0, 0, 0, 0, std::nullopt}}},
             {0.5, {{125, 250, 500, 1000, std::nullopt}}},
             {0.999, {{249, 499, 999, 1998, std::nullopt}}},
             {0.1, {{25, 50, 100, 200, std::nullopt}}},
             // Out-of-range inputs are clamped into [0, 1].
             {1.0, {{250, 500, 1000, 2000, std::nullopt}}},
             {7.0, {{250, 500, 1000, 2000, std::nullopt}}},
             {-0.3, {{0, 0, 0, 0, std::nullopt}}},
             {std::numeric_limits<double>::quiet_NaN(), {{0, 0, 0, 0, std::nullopt}}},
         }) {
        BOOST_TEST_CONTEXT("unit_random " << tc.unit_random)
        {
            retry_policy policy;
            BOOST_TEST(run(policy, tc.unit_random, 5) == tc.expected);
            BOOST_TEST(policy.retries_done() == 4u);
        }
    }
}

BOOST_AUTO_TEST_CASE(backoff_is_capped)
{
    retry_policy policy{limits(8, 1h, 250ms, 4000ms)};
    BOOST_TEST(
        run(policy, 0.5, 9) ==
        (delay_list{{125, 250, 500, 1000, 2000, 2000, 2000, 2000, std::nullopt}})
    );
    BOOST_TEST(policy.retries_done() == 8u);
}

BOOST_AUTO_TEST_CASE(cap_that_is_not_a_power_of_two_multiple)
{
    retry_policy policy{limits(5, 1h, 300ms, 1000ms)};
    BOOST_TEST(run(policy, 1.0, 5) == (delay_list{{300, 600, 1000, 1000, 1000}}));
}

BOOST_AUTO_TEST_CASE(no_overflow_with_many_retries)
{
    retry_policy policy{limits(200, 10000h, 1000ms, 60000ms)};
    auto const result = run(policy, 1.0, 200);
    BOOST_TEST(result.items.front().value_or(-1) == 1000);
    BOOST_TEST(result.items.back().value_or(-1) == 60000);
    BOOST_TEST(policy.retries_done() == 200u);
}

BOOST_AUTO_TEST_CASE(zero_retries_means_never)
{
    retry_policy policy{limits(0, 15s, 250ms, 4s)};
    BOOST_TEST(delay(policy, 0.5, std::nullopt) == wait_result{std::nullopt});
    BOOST_TEST(policy.retries_done() == 0u);
}

BOOST_AUTO_TEST_CASE(jitter_is_trimmed_to_the_budget_then_gives_up)
{
    retry_policy policy{limits(10, 1000ms, 400ms, 10s)};
    // 399, then 799 trimmed to the 601 left; the budget is then spent.
    BOOST_TEST(run(policy, 0.999, 3) == (delay_list{{399, 601, std::nullopt}}));
    BOOST_TEST(policy.retries_done() == 2u);
}

BOOST_AUTO_TEST_CASE(default_budget_holds_across_the_sequence)
{
    // Retry-After 4 s four times would be 16 s: the fourth exceeds 15 s and gives up.
    retry_policy policy;
    BOOST_TEST(delay(policy, 0.5, 4000ms) == wait_result{4000ms});
    BOOST_TEST(delay(policy, 0.5, 4000ms) == wait_result{4000ms});
    BOOST_TEST(delay(policy, 0.5, 4000ms) == wait_result{4000ms});
    BOOST_TEST(delay(policy, 0.5, 4000ms) == wait_result{std::nullopt});
    BOOST_TEST(policy.retries_done() == 3u);
}

BOOST_AUTO_TEST_CASE(retry_after_raises_the_delay)
{
    struct test_case
    {
        std::string_view name;
        double unit_random;
        std::optional<milliseconds> retry_after;
        wait_result expected;
    };
    for (auto const& tc : std::vector<test_case>{
             {"longer than the jitter", 0.5, 3000ms, 3000ms},
             {"shorter than the jitter", 0.5, 50ms, 125ms},
             {"zero", 0.5, 0ms, 125ms},
             {"negative is zero", 0.0, -5000ms, 0ms},
             {"exactly the budget", 0.5, 15000ms, 15000ms},
             {"over the budget", 0.5, 15001ms, std::nullopt},
             {"far over the budget", 0.0, 3600s, std::nullopt},
         }) {
        BOOST_TEST_CONTEXT(tc.name)
        {
            retry_policy policy;
            BOOST_TEST(delay(policy, tc.unit_random, tc.retry_after) == tc.expected);
            BOOST_TEST(policy.retries_done() == (tc.expected.value ? 1u : 0u));
        }
    }
}

BOOST_AUTO_TEST_CASE(retry_after_over_the_remaining_budget_gives_up)
{
    retry_policy policy{limits(4, 10s, 250ms, 4s)};
    BOOST_TEST(delay(policy, 0.0, 6s) == wait_result{6s});
    // 4 s left: honouring 5 s would break the budget, and waiting less would ignore the
    // server, so give up without spending anything.
    BOOST_TEST(delay(policy, 0.0, 5s) == wait_result{std::nullopt});
    BOOST_TEST(policy.retries_done() == 1u);
    // A caller that goes on anyway (e.g. a connection failure has no Retry-After) still
    // gets the remaining budget, and no more.
    BOOST_TEST(delay(policy, 0.0, 4s) == wait_result{4s});
    BOOST_TEST(delay(policy, 0.0, std::nullopt) == wait_result{std::nullopt});
}

BOOST_AUTO_TEST_CASE(parse_retry_after_seconds)
{
    auto const now = std::chrono::system_clock::now();
    struct test_case
    {
        std::string_view value;
        wait_result expected;
    };
    for (auto const& tc : std::vector<test_case>{
             {"0", 0ms},
             {"1", 1000ms},
             {"120", 120000ms},
             {"007", 7000ms},
             {" 5 ", 5000ms},
             {"\t3", 3000ms},
             // Absurdly far: saturates at a year instead of overflowing.
             {"99999999999999999999999999", std::chrono::hours{24 * 365}},
             {"", std::nullopt},
             {"   ", std::nullopt},
             {"-1", std::nullopt},
             {"+3", std::nullopt},
             {"1.5", std::nullopt},
             {"5s", std::nullopt},
             {"5 5", std::nullopt},
             {"abc", std::nullopt},
             {"0x10", std::nullopt},
         }) {
        BOOST_TEST_CONTEXT("value \"" << tc.value << "\"")
        {
            BOOST_TEST(parsed(tc.value, now) == tc.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(parse_retry_after_dates)
{
    struct test_case
    {
        std::string_view value;
        std::chrono::system_clock::time_point now;
        wait_result expected;
    };
    for (auto const& tc : std::vector<test_case>{
             // IMF-fixdate.
             {"Wed, 21 Oct 2015 07:28:00 GMT", example_date - 30s, 30000ms},
             {"Wed, 21 Oct 2015 07:28:00 GMT", example_date - 29s - 750ms, 29750ms},
             // Sub-millisecond remainders round up, never early.
             {"Wed, 21 Oct 2015 07:28:00 GMT", example_date - std::chrono::microseconds{1500}, 2ms},
             {"Wed, 21 Oct 2015 07:28:00 GMT", example_date, 0ms},
             {"Wed, 21 Oct 2015 07:28:00 GMT", example_date + 1h, 0ms},
             {"Thu, 01 Jan 1970 00:00:00 GMT", example_date, 0ms},
             {"Thu, 22 Oct 2015 07:28:00 GMT", example_date, 86400000ms},
             {"Sat, 31 Dec 2016 23:59:60 GMT",
              std::chrono::sys_days{std::chrono::year{2016} / 12 / 31} + 23h + 59min,
              60000ms},
             {"Mon, 29 Feb 2016 00:00:10 GMT",
              std::chrono::sys_days{std::chrono::year{2016} / 2 / 29},
              10000ms},
             {"  Wed, 21 Oct 2015 07:28:00 GMT  ", example_date - 1s, 1000ms},
             // The two obsolete forms recipients must accept (RFC 9110 section 5.6.7).
             {"Wednesday, 21-Oct-15 07:28:00 GMT", example_date - 2s, 2000ms},
             {"Wed Oct 21 07:28:00 2015", example_date - 3s, 3000ms},
             {"Thu Oct  1 07:28:00 2015", example_date - 20 * 24h, 0ms},
             {"Sun Nov  6 08:49:37 1994",
              std::chrono::sys_days{std::chrono::year{1994} / 11 / 6} + 8h + 49min + 30s,
              7000ms},
             // Malformed.
             {"Wed, 21 Oct 2015 07:28:00 UTC", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 07:28:00", example_date, std::nullopt},
             {"wed, 21 Oct 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Xyz, 21 Oct 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Wed, 21 Foo 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Wed, 32 Oct 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Wed, 00 Oct 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Sun, 29 Feb 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 24:00:00 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 07:60:00 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 07:28:61 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 7:28:00 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 07-28-00 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 15 07:28:00 GMT", example_date, std::nullopt},
             {"Wed,21 Oct 2015 07:28:00 GMT ", example_date, std::nullopt},
             {"Wed, 2a Oct 2015 07:28:00 GMT", example_date, std::nullopt},
             {"Wed, 21 Oct 2015 07:28:00 GMTX", example_date, std::nullopt},
             {"Wednesday, 21-Oct-2015 07:28:00 GMT", example_date, std::nullopt},
             {"Wed, 21-Oct-15 07:28:00 GMT", example_date, std::nullopt},
             {"Wed Oct 21 07:28:00 15", example_date, std::nullopt},
             {"2015-10-21T07:28:00Z", example_date, std::nullopt},
         }) {
        BOOST_TEST_CONTEXT("value \"" << tc.value << "\"")
        {
            BOOST_TEST(parsed(tc.value, tc.now) == tc.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(rfc850_two_digit_years_are_at_most_50_years_ahead)
{
    using std::chrono::year;
    milliseconds const saturated = std::chrono::hours{24 * 365};
    auto const in_2030 = std::chrono::sys_days{year{2030} / 6 / 1};
    // "80" read as 2080 is 50 years ahead, not more: it stays in the future.
    BOOST_TEST(parsed("Monday, 01-Jan-80 00:00:00 GMT", in_2030) == wait_result{saturated});
    // "81" as 2081 would be more than 50 years ahead: it is 1981, in the past.
    BOOST_TEST(parsed("Thursday, 01-Jan-81 00:00:00 GMT", in_2030) == wait_result{0ms});
    // "30" in 2030 is this year.
    BOOST_TEST(parsed("Saturday, 01-Jun-30 00:00:05 GMT", in_2030) == wait_result{5000ms});
    // At the end of a century "00" is the next one, seconds away, not 99 years ago.
    auto const end_of_2099 = std::chrono::sys_days{year{2099} / 12 / 31} + 23h + 59min + 50s;
    BOOST_TEST(parsed("Friday, 01-Jan-00 00:00:00 GMT", end_of_2099) == wait_result{10000ms});
}

BOOST_AUTO_TEST_CASE(parsed_retry_after_feeds_the_policy)
{
    retry_policy policy;
    auto const wait =
        retry_policy::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", example_date - 2s);
    BOOST_TEST(delay(policy, 0.5, wait) == wait_result{2000ms});
    auto const too_long = retry_policy::parse_retry_after("20", example_date);
    BOOST_TEST(delay(policy, 0.5, too_long) == wait_result{std::nullopt});
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
