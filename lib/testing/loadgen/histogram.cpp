#include <algorithm>
#include <bit>
#include <cmath>
#include <testing/loadgen/histogram.hpp>

namespace tokenrelay::loadgen {
namespace {

constexpr unsigned sub_bits = 7;                      // 128 exact values
constexpr std::uint64_t exact_limit = 1u << sub_bits; // values below are their own bucket
constexpr std::uint64_t half = exact_limit / 2;       // buckets per power of two above
constexpr std::size_t bucket_count = exact_limit + (64 - sub_bits) * half;

} // namespace

histogram::histogram() : buckets_(bucket_count, 0)
{}

std::size_t histogram::bucket_of(std::uint64_t value) noexcept
{
    if (value < exact_limit)
        return static_cast<std::size_t>(value);
    const auto shift = static_cast<unsigned>(std::bit_width(value)) - sub_bits;
    const auto mantissa = value >> shift; // in [64, 128)
    return static_cast<std::size_t>(exact_limit + (shift - 1) * half + (mantissa - half));
}

std::uint64_t histogram::upper_bound(std::size_t bucket) noexcept
{
    if (bucket < exact_limit)
        return bucket;
    const auto shift = static_cast<unsigned>((bucket - exact_limit) / half) + 1;
    const auto mantissa = (bucket - exact_limit) % half + half;
    return ((mantissa + 1) << shift) - 1;
}

void histogram::record(std::uint64_t value) noexcept
{
    ++buckets_[bucket_of(value)];
    ++count_;
    max_ = std::max(max_, value);
    min_ = std::min(min_, value);
    sum_ += static_cast<long double>(value);
}

void histogram::merge(const histogram& other) noexcept
{
    for (std::size_t i = 0; i < buckets_.size(); ++i)
        buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
    sum_ += other.sum_;
}

double histogram::mean() const noexcept
{
    return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

std::uint64_t histogram::percentile(double p) const noexcept
{
    if (count_ == 0)
        return 0;
    const auto clamped = std::clamp(p, 0.0, 100.0);
    auto rank =
        static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank)
            return std::min(upper_bound(i), max_);
    }
    return max_;
}

std::vector<std::pair<std::uint64_t, double>> histogram::cdf() const
{
    std::vector<std::pair<std::uint64_t, double>> out;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        if (buckets_[i] == 0)
            continue;
        seen += buckets_[i];
        out.emplace_back(
            std::min(upper_bound(i), max_), static_cast<double>(seen) / static_cast<double>(count_)
        );
    }
    return out;
}

} // namespace tokenrelay::loadgen
