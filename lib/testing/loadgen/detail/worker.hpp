#pragma once
// Internals of a load run shared by the runner (runner.cpp) and the session coroutines
// (ws_session.cpp, sse_session.cpp). Each worker thread owns one single-threaded
// io_context and its own metrics; what threads share is read-only or atomic.

#include <tokenrelay/core/net.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <random>
#include <testing/loadgen/frames.hpp>
#include <testing/loadgen/options.hpp>
#include <testing/loadgen/report.hpp>
#include <testing/loadgen/url.hpp>

namespace tokenrelay::loadgen::detail {

using clock = std::chrono::steady_clock;

/// Phases all sessions pass together (burst rounds, the reconnect storm's chat).
inline constexpr std::size_t max_phases = 16;

struct shared_run
{
    explicit shared_run(const options& o) : opts(o) {}

    const options& opts;
    target_url url;
    tcp::endpoint endpoint;
    bool loopback = false; // spread source addresses over 127.0.0.x
    std::string chat_text;
    clock::time_point start;
    clock::time_point soft_end; // no new chat or ping after this
    clock::time_point hard_end; // every connection still open is closed

    std::atomic<std::size_t> spawned{0};
    std::atomic<std::size_t> alive{0};
    std::atomic<std::size_t> connected{0}; // opened or failed
    std::atomic<bool> closing{false};
    std::atomic<std::size_t> released_phase{0};
    std::array<std::atomic<std::size_t>, max_phases> arrived{};
    std::array<std::atomic<std::int64_t>, max_phases> released_at_us{};

    std::int64_t now_us() const
    {
        return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
    }
    clock::time_point at_us(std::int64_t us) const { return start + std::chrono::microseconds(us); }
};

// What a worker's coroutines use. A base of `worker`, so it outlives the io_context:
// coroutine frames that the io_context destroys still unregister their sockets here.
struct worker_state
{
    explicit worker_state(std::uint64_t seed) : rng(seed) {}

    metrics m;
    frame_decoder decoder;
    sse_chunk_decoder sse_decoder;
    std::mt19937_64 rng;
    std::list<tcp::socket*> sockets; // open connections, closed at the hard end

    std::int64_t uniform_us(std::int64_t below)
    {
        if (below <= 0)
            return 0;
        return std::uniform_int_distribution<std::int64_t>(0, below - 1)(rng);
    }
};

struct worker : worker_state
{
    explicit worker(std::uint64_t seed) : worker_state(seed), phase_timer(ioc) {}

    net::io_context ioc{1};
    net::steady_timer phase_timer; // never expires; cancelled when a phase is released

    /// Keeps a socket in `sockets` while it lives.
    class socket_entry
    {
    public:
        socket_entry(worker_state& w, tcp::socket& s)
            : w_(w), it_(w.sockets.insert(w.sockets.end(), &s))
        {}
        ~socket_entry() { w_.sockets.erase(it_); }
        socket_entry(const socket_entry&) = delete;
        socket_entry& operator=(const socket_entry&) = delete;

    private:
        worker_state& w_;
        std::list<tcp::socket*>::iterator it_;
    };
};

/// One session: connects, then runs `opts.mode` over WebSocket.
awaitable<void> run_ws_session(worker& w, shared_run& run, std::size_t index);
/// One session of --sse: one keep-alive HTTP connection, chat after chat.
awaitable<void> run_sse_session(worker& w, shared_run& run, std::size_t index);

/// Opens the socket bound to the source address of session `index` and connects it.
awaitable<error_code> connect_from(beast::tcp_stream& s, const shared_run& run, std::size_t index);

/// Sleeps until `t` (false when cancelled).
awaitable<bool> sleep_until(clock::time_point t);

/// Waits until phase `p` is released (arriving at it first).
awaitable<void> reach_phase(worker& w, shared_run& run, std::size_t p);

/// Wall-clock microseconds, the clock of mock_upstream's stamps.
std::int64_t unix_micros() noexcept;

} // namespace tokenrelay::loadgen::detail
