#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <testing/mock/stats.hpp>

namespace tokenrelay::mock {

std::optional<counter> counter_from_name(std::string_view name) noexcept
{
    if (name == "requests")
        return counter::requests;
    if (name == "open")
        return counter::open;
    if (name == "completed")
        return counter::completed;
    if (name == "aborted")
        return counter::aborted;
    return std::nullopt;
}

std::uint64_t stats::on_request(std::string authorization, boost::json::value body)
{
    ++requests_;
    last_authorization_ = std::move(authorization);
    last_body_ = std::move(body);
    notify();
    return static_cast<std::uint64_t>(requests_);
}

void stats::on_anthropic_headers(std::string api_key, std::string version)
{
    last_api_key_ = std::move(api_key);
    last_anthropic_version_ = std::move(version);
}

stats::response_ticket stats::start_response()
{
    ++open_;
    notify();
    return response_ticket{generation_, false};
}

void stats::finish_response(response_ticket& t, outcome o)
{
    if (t.finished)
        return;
    t.finished = true;
    if (t.generation != generation_)
        return;
    --open_;
    ++(o == outcome::completed ? completed_ : aborted_);
    notify();
}

bool stats::should_fail(const std::string& content, std::size_t limit)
{
    auto& n = attempts_[content];
    if (n >= limit)
        return false;
    ++n;
    return true;
}

void stats::reset()
{
    requests_ = open_ = completed_ = aborted_ = 0;
    ++generation_;
    attempts_.clear();
    notify();
}

std::int64_t stats::value(counter c) const noexcept
{
    switch (c) {
    case counter::requests:
        return requests_;
    case counter::open:
        return open_;
    case counter::completed:
        return completed_;
    case counter::aborted:
        return aborted_;
    }
    return 0;
}

std::string stats::to_json() const
{
    boost::json::object o;
    o["requests"] = requests_;
    o["open"] = open_;
    o["completed"] = completed_;
    o["aborted"] = aborted_;
    o["last_authorization"] = last_authorization_;
    o["last_body"] = last_body_;
    if (last_api_key_) {
        o["last_api_key"] = *last_api_key_;
        o["last_anthropic_version"] = last_anthropic_version_;
    }
    return boost::json::serialize(o);
}

stats::waiter_list::iterator stats::add_waiter(std::function<void()> wake)
{
    return waiters_.insert(waiters_.end(), std::move(wake));
}

void stats::remove_waiter(waiter_list::iterator it)
{
    waiters_.erase(it);
}

void stats::notify()
{
    // A wake-up only schedules the waiter (it cancels a timer), so no waiter can add or
    // remove entries while this loop runs.
    for (auto& wake : waiters_)
        wake();
}

} // namespace tokenrelay::mock
