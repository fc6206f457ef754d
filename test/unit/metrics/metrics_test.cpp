#include <tokenrelay/metrics/metrics.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using tokenrelay::errc;
namespace metrics = tokenrelay::metrics;

namespace {

/// The value of the sample line `name` (with labels, exactly as written), or -1.
double sample_value(const std::string& text, const std::string& name)
{
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos)
        return -1;
    return std::stod(text.substr(at + name.size() + 2));
}

} // namespace

BOOST_AUTO_TEST_SUITE(metrics_suite)

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_in_seconds)
{
    metrics::histogram h;
    h.observe(0.5);   // le 0.001
    h.observe(3);     // le 0.005
    h.observe(3);     // le 0.005
    h.observe(99999); // +Inf only
    std::string out;
    h.render(out, "x_seconds", "help");
    BOOST_TEST(out.find("# TYPE x_seconds histogram\n") != std::string::npos);
    BOOST_TEST(sample_value(out, "x_seconds_bucket{le=\"0.001\"}") == 1);
    BOOST_TEST(sample_value(out, "x_seconds_bucket{le=\"0.002\"}") == 1);
    BOOST_TEST(sample_value(out, "x_seconds_bucket{le=\"0.005\"}") == 3);
    BOOST_TEST(sample_value(out, "x_seconds_bucket{le=\"30\"}") == 3);
    BOOST_TEST(sample_value(out, "x_seconds_bucket{le=\"+Inf\"}") == 4);
    BOOST_TEST(sample_value(out, "x_seconds_count") == 4);
    BOOST_TEST(sample_value(out, "x_seconds_sum") == (0.5 + 3 + 3 + 99999) / 1000.0);
}

BOOST_AUTO_TEST_CASE(render_includes_counters_gauges_and_process_figures)
{
    auto& m = metrics::global();
    const auto before = m.errors_by_code[static_cast<std::size_t>(errc::busy)].load();
    m.count_error(errc::busy);
    m.count_upstream_response(503);
    m.count_upstream_response(0);
    metrics::gauges g;
    g.open_connections = 7;
    g.live_sessions = 3;
    g.detached_sessions = 2;
    g.draining = true;
    const auto text = "\n" + metrics::render(g);
    BOOST_TEST(sample_value(text, "tokenrelay_open_connections") == 7);
    BOOST_TEST(sample_value(text, "tokenrelay_sessions{state=\"attached\"}") == 3);
    BOOST_TEST(sample_value(text, "tokenrelay_sessions{state=\"detached\"}") == 2);
    BOOST_TEST(sample_value(text, "tokenrelay_draining") == 1);
    BOOST_TEST(sample_value(text, "tokenrelay_errors_total{code=\"busy\"}") == before + 1);
    BOOST_TEST(sample_value(text, "tokenrelay_upstream_responses_total{class=\"5xx\"}") >= 1);
    BOOST_TEST(sample_value(text, "tokenrelay_upstream_responses_total{class=\"error\"}") >= 1);
    BOOST_TEST(sample_value(text, "process_resident_memory_bytes") > 0);
    BOOST_TEST(sample_value(text, "process_open_fds") >= 3);
    // Every code of section 2 has its series.
    for (int c = static_cast<int>(errc::bad_json); c <= static_cast<int>(errc::unauthorized); ++c)
        BOOST_TEST(
            sample_value(
                text,
                "tokenrelay_errors_total{code=\"" +
                    std::string(tokenrelay::code_name(static_cast<errc>(c))) + "\"}"
            ) >= 0
        );
}

BOOST_AUTO_TEST_SUITE_END()
