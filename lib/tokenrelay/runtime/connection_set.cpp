#include <tokenrelay/runtime/connection_set.hpp>

#include <vector>

namespace tokenrelay::runtime {

reserve_result
connection_set::try_reserve(const std::string& ip, std::size_t max_total, std::size_t max_per_ip)
{
    std::lock_guard lock(mutex_);
    if (reserved_ >= max_total)
        return reserve_result::over_total;
    auto& n = per_ip_[ip];
    if (n >= max_per_ip) {
        if (n == 0)
            per_ip_.erase(ip);
        return reserve_result::over_per_ip;
    }
    ++n;
    ++reserved_;
    return reserve_result::reserved;
}

void connection_set::release(const std::string& ip)
{
    std::lock_guard lock(mutex_);
    auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && --it->second == 0)
        per_ip_.erase(it);
    if (reserved_ > 0)
        --reserved_;
}

void connection_set::add(const std::shared_ptr<open_connection>& c)
{
    std::lock_guard lock(mutex_);
    open_.insert(c);
}

void connection_set::remove(const std::shared_ptr<open_connection>& c)
{
    {
        std::lock_guard lock(mutex_);
        open_.erase(c);
    }
    drain_.notify();
}

void connection_set::close_all()
{
    std::vector<std::shared_ptr<open_connection>> all;
    {
        std::lock_guard lock(mutex_);
        all.assign(open_.begin(), open_.end());
    }
    for (auto& c : all)
        c->close_for_shutdown();
}

std::size_t connection_set::size() const
{
    std::lock_guard lock(mutex_);
    return open_.size();
}

} // namespace tokenrelay::runtime
