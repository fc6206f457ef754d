#include <tokenrelay/ws/keepalive_policy.hpp>

#include <algorithm>

namespace tokenrelay::ws {

keepalive_policy::time_point keepalive_policy::next_deadline(const keepalive_config& config
) const noexcept
{
    const auto idle = config.idle_timeout;
    const auto silence_limit = last_read_ + (pinged_since_read_ ? idle : idle / 2);
    return std::min(last_write_ + config.ping_interval, silence_limit);
}

keepalive_action
keepalive_policy::due(const keepalive_config& config, time_point now) const noexcept
{
    if (now >= last_read_ + config.idle_timeout)
        return keepalive_action::drop;
    if (now >= last_write_ + config.ping_interval)
        return keepalive_action::ping;
    if (!pinged_since_read_ && now >= last_read_ + config.idle_timeout / 2)
        return keepalive_action::ping;
    return keepalive_action::none;
}

} // namespace tokenrelay::ws
