#include <tokenrelay/http/completion_drain.hpp>
#include <tokenrelay/http/completions.hpp>

#include <mutex>
#include <unordered_set>

namespace tokenrelay::http_server {
namespace {

struct in_flight_set
{
    std::mutex mutex;
    std::unordered_set<std::shared_ptr<stopper>> running;
};

in_flight_set& in_flight()
{
    static in_flight_set set;
    return set;
}

} // namespace

in_flight_entry::in_flight_entry(net::any_io_executor ex)
    : stopper_(std::make_shared<stopper>(std::move(ex)))
{
    auto& set = in_flight();
    std::lock_guard lock(set.mutex);
    set.running.insert(stopper_);
}

in_flight_entry::~in_flight_entry()
{
    auto& set = in_flight();
    std::lock_guard lock(set.mutex);
    set.running.erase(stopper_);
}

awaitable<void> wait_for_stop(stopper& s)
{
    while (!s.stopped) {
        s.timer.expires_at(net::steady_timer::time_point::max());
        co_await s.timer.async_wait(use_tuple);
        auto cs = co_await net::this_coro::cancellation_state;
        if (is_cancelled(cs))
            co_return;
    }
}

std::size_t completions_in_flight()
{
    auto& set = in_flight();
    std::lock_guard lock(set.mutex);
    return set.running.size();
}

void stop_completions()
{
    auto& set = in_flight();
    std::lock_guard lock(set.mutex);
    for (const auto& s : set.running) {
        auto ex = s->timer.get_executor();
        net::post(ex, [s] {
            s->stopped = true;
            s->timer.cancel();
        });
    }
}

} // namespace tokenrelay::http_server
