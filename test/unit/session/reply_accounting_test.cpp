// One reply's figures, the same for both doors (PROTOCOL.md section 2: stream_end's
// reason, ttft_ms, total_ms and usage; the /metrics they feed). Each test counts into
// its own metrics, so what it sees is what the accounting did.

#include <tokenrelay/session/reply_accounting.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

using tokenrelay::errc;
using tokenrelay::token_usage;
namespace ts = tokenrelay::session;
namespace tm_ = tokenrelay::metrics;
using namespace std::chrono_literals;
using clock_type = ts::reply_accounting::clock;

namespace {

/// `name_count N` from a histogram's exposition.
std::string histogram_count(const tm_::histogram& h)
{
    std::string out;
    h.render(out, "h", "help");
    const auto at = out.find("h_count ");
    return at == std::string::npos ? "" : out.substr(at + 8, out.find('\n', at) - at - 8);
}

std::uint64_t load(const std::atomic<std::uint64_t>& a)
{
    return a.load();
}

} // namespace

BOOST_AUTO_TEST_SUITE(reply_accounting_suite)

BOOST_AUTO_TEST_CASE(end_reasons_are_section_2s)
{
    BOOST_TEST(ts::finished_reason("stop") == "stop");
    BOOST_TEST(ts::finished_reason("length") == "length");
    BOOST_TEST(ts::finished_reason("tool_calls") == "tool_calls");
    BOOST_TEST(ts::finished_reason("function_call") == "tool_calls");
    BOOST_TEST(ts::finished_reason("content_filter") == "content_filter");
    // Any other finish reason is a normal stop.
    BOOST_TEST(ts::finished_reason("pause_turn") == "stop");
    BOOST_TEST(ts::finished_reason("") == "stop");
    BOOST_TEST(ts::failed_reason(errc::timeout) == "timeout");
    BOOST_TEST(ts::failed_reason(errc::upstream_error) == "upstream_error");
    BOOST_TEST(ts::stopped_reason(ts::stop_reason::shutdown) == "shutdown");
    BOOST_TEST(ts::stopped_reason(ts::stop_reason::cancelled) == "cancelled");
    BOOST_TEST(ts::stopped_reason(ts::stop_reason::expired) == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_reply_is_counted_as_started)
{
    tm_::relay_metrics m;
    ts::reply_accounting a(5, {}, clock_type::now(), m);
    BOOST_TEST(load(m.generations_started) == 1u);
    BOOST_TEST(a.ttft_ms() == -1);
    BOOST_TEST(a.token_events() == 0);
}

BOOST_AUTO_TEST_CASE(first_token_time_then_gaps_between_tokens)
{
    tm_::relay_metrics m;
    const auto t0 = clock_type::now();
    ts::reply_accounting a(5, {}, t0, m);
    a.on_delta(3, t0 + 120ms);
    a.on_delta(4, t0 + 150ms);
    a.on_delta(0, t0 + 151ms);
    BOOST_TEST(a.ttft_ms() == 120);
    BOOST_TEST(a.token_events() == 3);
    BOOST_TEST(a.elapsed_ms(t0 + 2s) == 2000);
    BOOST_TEST(histogram_count(m.ttft) == "1");
    BOOST_TEST(histogram_count(m.inter_token) == "2");
    BOOST_TEST(load(m.tokens_relayed) == 3u);
    BOOST_TEST(load(m.token_bytes_relayed) == 7u);
}

BOOST_AUTO_TEST_CASE(finished_counts_the_upstreams_usage_once)
{
    tm_::relay_metrics m;
    ts::reply_accounting a(5, {1.0, 2.0}, clock_type::now(), m);
    a.on_delta(1);
    const auto reason = a.on_finished("length", token_usage{10, 20});
    BOOST_TEST(reason == "length");
    BOOST_REQUIRE(a.usage());
    BOOST_TEST(a.usage()->usage.tokens.prompt_tokens == 10);
    BOOST_TEST(a.usage()->usage.tokens.completion_tokens == 20);
    BOOST_TEST(!a.usage()->usage.estimated);
    BOOST_TEST(a.usage()->cost == "0.00005"); // (10 × 1 + 20 × 2) / 1e6
    // The door's end of the reply settles again: nothing is counted twice.
    a.settle_usage();
    a.settle_usage(token_usage{99, 99});
    BOOST_TEST(a.usage()->usage.tokens.prompt_tokens == 10);
    BOOST_TEST(load(m.prompt_tokens) == 10u);
    BOOST_TEST(load(m.completion_tokens) == 20u);
    BOOST_TEST(load(m.estimated_usage) == 0u);
    BOOST_TEST(load(m.cost_micro_usd) == 50u);
}

BOOST_AUTO_TEST_CASE(a_failed_reply_is_counted_as_far_as_it_got)
{
    tm_::relay_metrics m;
    ts::reply_accounting a(7, {}, clock_type::now(), m);
    a.on_delta(2);
    a.on_delta(2);
    BOOST_TEST(a.on_failed(errc::timeout) == "timeout");
    BOOST_TEST(load(m.errors_by_code[static_cast<std::size_t>(errc::timeout)]) == 1u);
    const auto& usage = a.settle_usage();
    BOOST_REQUIRE(usage);
    BOOST_TEST(usage->usage.estimated);
    BOOST_TEST(usage->usage.tokens.prompt_tokens == 7);
    BOOST_TEST(usage->usage.tokens.completion_tokens == 2);
    BOOST_TEST(usage->cost.empty()); // no prices configured
    BOOST_TEST(load(m.estimated_usage) == 1u);
    BOOST_TEST(load(m.cost_micro_usd) == 0u);
}

BOOST_AUTO_TEST_CASE(nothing_is_charged_when_nothing_shows_the_upstream_answered)
{
    tm_::relay_metrics m;
    ts::reply_accounting a(7, {1.0, 1.0}, clock_type::now(), m);
    BOOST_TEST(a.on_failed(errc::upstream_error) == "upstream_error");
    BOOST_TEST(!a.settle_usage());
    BOOST_TEST(load(m.prompt_tokens) == 0u);
    BOOST_TEST(load(m.estimated_usage) == 0u);
}

BOOST_AUTO_TEST_CASE(the_log_line_gets_the_same_figures)
{
    tm_::relay_metrics m;
    const auto t0 = clock_type::now();
    ts::reply_accounting a(3, {}, t0, m);
    a.on_delta(1, t0 + 40ms);
    a.on_finished("stop", std::nullopt);
    ts::generation_record r;
    a.fill(r, t0 + 90ms);
    BOOST_TEST(r.ttft_ms == 40);
    BOOST_TEST(r.total_ms == 90);
    BOOST_REQUIRE(r.usage);
    BOOST_TEST(r.usage->estimated);
    BOOST_TEST(r.usage->tokens.completion_tokens == 1);
}

BOOST_AUTO_TEST_SUITE_END()
