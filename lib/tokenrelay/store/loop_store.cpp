#include <tokenrelay/core/log.hpp>
#include <tokenrelay/store/loop_store.hpp>
#include <tokenrelay/store/session_commands.hpp>

#include <vector>

namespace tokenrelay::store {

loop_store::loop_store(
    net::any_io_executor executor,
    redis_endpoint endpoint,
    store_timing timing,
    std::string instance_id
)
    : executor_(executor), timing_(timing), instance_(std::move(instance_id)),
      commands_(redis_connection::make(executor, endpoint, timing.connection)),
      subscriber_(redis_connection::make(executor, endpoint, timing.connection)),
      sweep_timer_(executor)
{
    subscriber_->on_message([this](std::string_view channel, std::string_view payload) {
        auto it = channels_.find(std::string(channel));
        if (it != channels_.end())
            it->second(payload);
    });
    subscriber_->on_state_change([this](bool up) {
        if (up)
            resubscribe();
        state_changed();
    });
    commands_->on_state_change([this](bool) { state_changed(); });
}

void loop_store::state_changed()
{
    const bool now = up();
    if (now == was_up_)
        return;
    was_up_ = now;
    if (now)
        send_local_marks();
    if (on_state_change_)
        on_state_change_(now);
}

loop_store::~loop_store()
{
    *alive_ = false;
    commands_->stop();
    subscriber_->stop();
}

void loop_store::start()
{
    commands_->start();
    subscriber_->start();
    net::co_spawn(executor_, sweep(alive_), log::task_failure{"store sweep"});
}

void loop_store::stop()
{
    *alive_ = false;
    sweep_timer_.cancel();
    commands_->stop();
    subscriber_->stop();
}

bool loop_store::up() const noexcept
{
    return commands_->up() && subscriber_->up();
}

void loop_store::subscribe(
    const std::string& channel, std::function<void(std::string_view)> handler
)
{
    const bool fresh = channels_.insert_or_assign(channel, std::move(handler)).second;
    if (!fresh || !subscriber_->up())
        return; // resubscribe() covers it when the connection comes up
    redis_request r;
    r.push({"SUBSCRIBE", channel});
    subscriber_->async_exec(std::move(r), ignore_reply);
}

void loop_store::unsubscribe(const std::string& channel)
{
    if (channels_.erase(channel) == 0 || !subscriber_->up())
        return;
    redis_request r;
    r.push({"UNSUBSCRIBE", channel});
    subscriber_->async_exec(std::move(r), ignore_reply);
}

void loop_store::resubscribe()
{
    if (channels_.empty())
        return;
    std::vector<std::string_view> args{"SUBSCRIBE"};
    for (const auto& [channel, handler] : channels_)
        args.push_back(channel);
    redis_request r;
    r.push(args, channels_.size());
    subscriber_->async_exec(
        std::move(r),
        [this, alive = alive_](error_code ec, std::vector<resp_value>) {
            if (ec || !*alive)
                return;
            // What was published while the connection was away is lost: everyone looks.
            std::vector<std::function<void(std::string_view)>> handlers;
            for (const auto& [channel, handler] : channels_)
                handlers.push_back(handler);
            for (auto& h : handlers)
                h({});
        }
    );
}

void loop_store::mark_local(const session_keys& keys)
{
    local_marks_.push_back(keys.meta);
    if (commands_->up())
        send_local_marks();
}

void loop_store::send_local_marks()
{
    if (local_marks_.empty())
        return;
    redis_request r;
    const auto ttl = std::to_string(timing_.key_ttl.count());
    for (const auto& meta : local_marks_) {
        r.push({"HSET", meta, "local", "1"});
        r.push({"PEXPIRE", meta, ttl});
    }
    commands_->async_exec(
        std::move(r),
        [this,
         alive = alive_,
         marks = std::move(local_marks_)](error_code ec, std::vector<resp_value>) mutable {
            // Lost with the connection: the next time it is up they go again.
            if (ec && *alive)
                local_marks_.insert(local_marks_.end(), marks.begin(), marks.end());
        }
    );
    local_marks_.clear();
}

void loop_store::hold_lease(const session_keys& keys, std::function<void()> lost)
{
    leases_.insert_or_assign(keys.lease, lease{keys, std::move(lost)});
}

void loop_store::release_lease(const std::string& lease_key)
{
    leases_.erase(lease_key);
}

void loop_store::keep_alive(const session_keys& keys)
{
    kept_.insert_or_assign(keys.meta, keys);
}

void loop_store::stop_keeping_alive(const std::string& meta_key)
{
    kept_.erase(meta_key);
}

awaitable<void> loop_store::sweep(std::shared_ptr<bool> alive)
{
    while (*alive) {
        sweep_timer_.expires_after(timing_.lease_renew);
        co_await sweep_timer_.async_wait(use_tuple);
        if (!*alive || !commands_->up())
            continue;
        redis_request r;
        std::vector<std::string> renewed;
        for (const auto& [key, l] : leases_) {
            push_renew_lease(r, l.keys, instance_, timing_.lease_ttl);
            renewed.push_back(key);
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_touch_ >= timing_.key_ttl / 3) {
            last_touch_ = now;
            for (const auto& [meta, keys] : kept_)
                push_touch(r, keys, timing_.key_ttl);
        }
        if (r.empty())
            continue;
        commands_->async_exec(
            std::move(r),
            [this, alive, renewed = std::move(renewed)](error_code ec, std::vector<resp_value> v) {
                if (ec || !*alive)
                    return;
                for (std::size_t i = 0; i < renewed.size() && i < v.size(); ++i) {
                    if (v[i].type == resp_value::kind::integer && v[i].integer == 1)
                        continue;
                    auto it = leases_.find(renewed[i]);
                    if (it == leases_.end())
                        continue;
                    auto lost = std::move(it->second.lost);
                    leases_.erase(it);
                    log::warn("store_lease_lost", {{"lease", renewed[i]}});
                    if (lost)
                        lost();
                }
            }
        );
    }
}

} // namespace tokenrelay::store
