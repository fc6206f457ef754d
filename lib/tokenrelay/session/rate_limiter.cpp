#include <tokenrelay/session/rate_limiter.hpp>

#include <algorithm>
#include <cmath>

namespace tokenrelay::session {

std::optional<std::int64_t> rate_limiter::try_take(std::int64_t now_ms)
{
    if (per_minute_ == 0)
        return std::nullopt;
    const double per_ms = per_minute_ / 60000.0;
    if (last_ms_ >= 0 && now_ms > last_ms_)
        tokens_ = std::min<double>(per_minute_, tokens_ + (now_ms - last_ms_) * per_ms);
    if (last_ms_ < 0 || now_ms > last_ms_)
        last_ms_ = now_ms;
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return std::nullopt;
    }
    return static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / per_ms));
}

void rate_limiter::give_back() noexcept
{
    if (per_minute_ != 0)
        tokens_ = std::min<double>(per_minute_, tokens_ + 1.0);
}

bool rate_limiter::full_at(std::int64_t now_ms) const noexcept
{
    if (per_minute_ == 0 || last_ms_ < 0)
        return true;
    const double per_ms = per_minute_ / 60000.0;
    return tokens_ + static_cast<double>(std::max<std::int64_t>(0, now_ms - last_ms_)) * per_ms >=
           per_minute_;
}

} // namespace tokenrelay::session
