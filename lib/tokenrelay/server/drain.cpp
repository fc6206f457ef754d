#include <tokenrelay/core/log.hpp>
#include <tokenrelay/server/drain.hpp>

#include <atomic>
#include <chrono>
#include <string>

namespace tokenrelay::server {
namespace {

using clock = std::chrono::steady_clock;

// After the drain timeout, what was told to stop gets this long to do so, and so do the
// connections to close and the listeners: none of them waits for a client.
constexpr auto stop_grace = std::chrono::seconds(3);
constexpr auto listener_close_grace = std::chrono::seconds(1);

std::size_t running_generations(const runtime::relay_state& state)
{
    std::size_t n = 0;
    for (const auto& s : state.sessions.all())
        n += s->work_pending() ? 1 : 0;
    return n;
}

/// Both doors' work in progress: WebSocket generations and completion requests
/// (section 1), whose answers may finish within the drain timeout just the same.
bool idle(const runtime::relay_state& state)
{
    return running_generations(state) == 0 && state.drain.completions_running() == 0;
}

/// A second signal while draining stops the loops at once.
awaitable<void> abort_on_second_signal(net::signal_set& signals, loop_set& loops)
{
    auto [ec, signo] = co_await signals.async_wait(use_tuple);
    if (ec)
        co_return;
    log::warn("drain_aborted", {{"signal", std::to_string(signo)}});
    loops.stop_all();
}

/// Each acceptor belongs to its loop's thread: close it there, so new connections are
/// refused rather than left in a backlog nobody reads.
awaitable<void> close_listeners(runtime::relay_state& state, loop_set& loops)
{
    auto closed = std::make_shared<std::atomic<std::size_t>>(0);
    for (auto& a : loops.acceptors)
        net::post(a->get_executor(), [&a = *a, closed, &state] {
            error_code ignored;
            a.close(ignored);
            closed->fetch_add(1);
            state.drain.notify();
        });
    co_await state.drain.wait_until(
        [&] { return closed->load() == loops.acceptors.size(); },
        clock::now() + listener_close_grace
    );
}

} // namespace

void loop_set::stop_all()
{
    for (auto& c : contexts)
        c->stop();
}

void loop_set::shut_down()
{
    for (auto& c : contexts)
        c->shutdown();
}

awaitable<void>
drain_on_signal(net::signal_set& signals, runtime::relay_state& state, loop_set& loops)
{
    auto [ec, signo] = co_await signals.async_wait(use_tuple);
    if (ec)
        co_return;
    log::info("drain_started", {{"signal", std::to_string(signo)}});
    state.draining = true;
    state.sessions.refuse_replies();
    net::co_spawn(
        co_await net::this_coro::executor,
        abort_on_second_signal(signals, loops),
        log::task_failure{"drain_abort_on_signal"}
    );

    auto& watch = state.drain;
    co_await watch.wait_until(
        [&] { return idle(state); }, clock::now() + state.config.drain_timeout
    );
    for (auto& s : state.sessions.all())
        s->stop(session::stop_reason::shutdown);
    // A completion still running when the loops stop would be torn down with them, after
    // the state it points to.
    for (auto& loop : loops.loops)
        loop->stop.stop();
    co_await watch.wait_until([&] { return idle(state); }, clock::now() + stop_grace);
    state.connections.close_all();
    co_await watch.wait_until(
        [&] { return state.connections.size() == 0; }, clock::now() + stop_grace
    );
    co_await close_listeners(state, loops);
    log::info("drain_finished");
    loops.stop_all();
}

} // namespace tokenrelay::server
