#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/core/tls_client_context.hpp>
#include <tokenrelay/store/shared_store.hpp>

#include <stdexcept>
#include <unistd.h>

namespace tokenrelay::store {

shared_store::shared_store(
    redis_endpoint endpoint, std::optional<store_tls> tls, store_timing timing
)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)), timing_(timing),
      instance_(std::to_string(::getpid()) + "-" + make_session_id().substr(0, 8))
{}

shared_store::~shared_store() = default;

void shared_store::add_loop(const net::io_context::executor_type& executor)
{
    auto endpoint = endpoint_;
    if (tls_)
        endpoint.tls = make_client_tls_context(tls_->extra_ca_file);
    loops_.push_back(loop_entry{
        &executor.context(),
        std::make_unique<loop_store>(executor, std::move(endpoint), timing_, instance_),
    });
    loops_down_.fetch_add(1, std::memory_order_relaxed);
    auto& entry = loops_.back();
    entry.store->on_state_change([this, i = loops_.size() - 1](bool up) {
        auto& e = loops_[i];
        if (e.up == up)
            return;
        e.up = up;
        loops_down_.fetch_add(up ? -1 : 1, std::memory_order_relaxed);
    });
}

loop_store& shared_store::at(const net::io_context::executor_type& executor)
{
    for (auto& l : loops_)
        if (l.context == &executor.context())
            return *l.store;
    throw std::logic_error("shared_store: no store for this loop");
}

void shared_store::start()
{
    for (auto& l : loops_)
        l.store->start();
}

void shared_store::stop()
{
    for (auto& l : loops_)
        l.store->stop();
}

} // namespace tokenrelay::store
