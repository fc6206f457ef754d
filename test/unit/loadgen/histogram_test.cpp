#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <testing/loadgen/histogram.hpp>

namespace loadgen = tokenrelay::loadgen;

BOOST_AUTO_TEST_SUITE(loadgen_histogram)

BOOST_AUTO_TEST_CASE(small_values_are_exact)
{
    loadgen::histogram h;
    for (std::uint64_t v = 0; v < 100; ++v)
        h.record(v);
    BOOST_TEST(h.count() == 100u);
    BOOST_TEST(h.min() == 0u);
    BOOST_TEST(h.max() == 99u);
    BOOST_TEST(h.percentile(50) == 49u);
    BOOST_TEST(h.percentile(99) == 98u);
    BOOST_TEST(h.percentile(100) == 99u);
    BOOST_TEST(h.mean() == 49.5);
}

BOOST_AUTO_TEST_CASE(buckets_tile_the_range_without_gaps)
{
    for (std::size_t b = 0; b < 3000; ++b) {
        const auto top = loadgen::histogram::upper_bound(b);
        BOOST_TEST_REQUIRE(loadgen::histogram::bucket_of(top) == b);
        BOOST_TEST_REQUIRE(loadgen::histogram::bucket_of(top + 1) == b + 1);
    }
    BOOST_TEST(loadgen::histogram::bucket_of(UINT64_MAX) > 3000u);
}

BOOST_AUTO_TEST_CASE(percentiles_of_large_values_are_within_two_percent)
{
    loadgen::histogram h;
    for (std::uint64_t v = 1; v <= 100000; ++v)
        h.record(v * 10);
    for (double p : {50.0, 90.0, 99.0, 99.9}) {
        const double truth = p / 100.0 * 1000000.0;
        const auto got = static_cast<double>(h.percentile(p));
        BOOST_TEST_CONTEXT("p" << p)
        {
            BOOST_TEST(got >= truth);
            BOOST_TEST(got <= truth * 1.016);
        }
    }
    BOOST_TEST(h.percentile(100) == 1000000u);
}

BOOST_AUTO_TEST_CASE(merge_equals_recording_everything_in_one)
{
    loadgen::histogram a, b, all;
    for (std::uint64_t v = 0; v < 5000; ++v) {
        (v % 3 ? a : b).record(v * v);
        all.record(v * v);
    }
    a.merge(b);
    BOOST_TEST(a.count() == all.count());
    BOOST_TEST(a.max() == all.max());
    BOOST_TEST(a.min() == all.min());
    for (double p : {1.0, 50.0, 99.0})
        BOOST_TEST(a.percentile(p) == all.percentile(p));
    BOOST_TEST(a.cdf() == all.cdf());
}

BOOST_AUTO_TEST_CASE(cdf_is_ascending_and_ends_at_one)
{
    loadgen::histogram h;
    h.record(5);
    h.record(5);
    h.record(1000);
    h.record(70000);
    const auto c = h.cdf();
    BOOST_REQUIRE(c.size() == 3u);
    BOOST_TEST(c[0].first == 5u);
    BOOST_TEST(c[0].second == 0.5);
    BOOST_TEST(c[1].second == 0.75);
    BOOST_TEST(c[2].first == 70000u); // capped at the exact maximum
    BOOST_TEST(c[2].second == 1.0);
}

BOOST_AUTO_TEST_CASE(empty_is_all_zero)
{
    loadgen::histogram h;
    BOOST_TEST(h.percentile(99) == 0u);
    BOOST_TEST(h.min() == 0u);
    BOOST_TEST(h.mean() == 0.0);
    BOOST_TEST(h.cdf().empty());
}

BOOST_AUTO_TEST_SUITE_END()
