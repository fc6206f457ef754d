#include <tokenrelay/server/memory_trim.hpp>

#include <chrono>
#include <cstdint>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tokenrelay::server {
namespace {

constexpr auto trim_check_interval = std::chrono::seconds(5);
constexpr std::uint64_t trim_after_sessions_ended = 1000;

} // namespace

awaitable<void> return_freed_memory(runtime::relay_state& state)
{
    net::steady_timer timer(co_await net::this_coro::executor);
    auto& ended = state.sessions.counters.forgotten;
    auto last = ended.load(std::memory_order_relaxed);
    for (;;) {
        timer.expires_after(trim_check_interval);
        if (auto [ec] = co_await timer.async_wait(use_tuple); ec)
            co_return;
        const auto now = ended.load(std::memory_order_relaxed);
        if (now - last < trim_after_sessions_ended)
            continue;
        last = now;
#if defined(__GLIBC__)
        malloc_trim(0);
#endif
    }
}

} // namespace tokenrelay::server
