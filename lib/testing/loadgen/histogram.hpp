#pragma once
// Sans-I/O: a log-linear histogram of non-negative integers (microseconds here), in the
// manner of HdrHistogram: exact below 128, then 64 buckets per power of two, so any
// percentile is within 1.6 % of the true value at a fixed 30 KiB, whatever the count.
// Merging two is adding their buckets, so each loadgen thread keeps its own.

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tokenrelay::loadgen {

class histogram
{
public:
    histogram();

    void record(std::uint64_t value) noexcept;
    void merge(const histogram& other) noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t max() const noexcept { return max_; }
    std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
    double mean() const noexcept;

    /// The smallest bucket bound with at least `p` percent of the values at or below it
    /// (the bucket's highest value, capped at the exact maximum); 0 when empty.
    std::uint64_t percentile(double p) const noexcept;

    /// (bucket upper bound, fraction of values at or below it) for every non-empty
    /// bucket, ascending: the cumulative distribution, for plots.
    std::vector<std::pair<std::uint64_t, double>> cdf() const;

    /// Bucket index of `value` and the highest value of a bucket; public for tests.
    static std::size_t bucket_of(std::uint64_t value) noexcept;
    static std::uint64_t upper_bound(std::size_t bucket) noexcept;

private:
    std::vector<std::uint64_t> buckets_;
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    long double sum_ = 0;
};

} // namespace tokenrelay::loadgen
