#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <sys/resource.h>
#include <testing/loadgen/detail/worker.hpp>
#include <testing/loadgen/proc_stat.hpp>
#include <testing/loadgen/runner.hpp>
#include <thread>

namespace tokenrelay::loadgen {
namespace {

using detail::clock;
using detail::shared_run;
using detail::worker;

// The coordinator's pace: phase releases and the end are noticed within this.
constexpr auto tick = std::chrono::milliseconds(10);
constexpr auto proc_sample_every = std::chrono::milliseconds(250);
// Memory is read this long after the last session opened, once allocations have settled.
constexpr auto settle = std::chrono::seconds(2);
// Burst round 2 and later start this long after every session finished the round before,
// so the relay's upstream connections are back in its pool ("warm").
constexpr auto round_pause = std::chrono::milliseconds(500);
// After the hard end, connections were closed; threads that still run are stopped.
constexpr auto stop_after_close = std::chrono::seconds(5);

awaitable<void> ramp(worker& w, shared_run& run, std::size_t first, std::size_t stride)
{
    const auto& o = run.opts;
    for (std::size_t i = first; i < o.sessions; i += stride) {
        const auto at =
            run.start + std::chrono::microseconds(
                            static_cast<std::int64_t>(static_cast<double>(i) / o.ramp * 1e6)
                        );
        if (at > clock::now())
            co_await detail::sleep_until(at);
        if (run.closing.load(std::memory_order_relaxed)) {
            run.spawned.fetch_add(1, std::memory_order_acq_rel);
            run.connected.fetch_add(1, std::memory_order_acq_rel);
            continue;
        }
        // alive before spawned: the coordinator reads spawned, then alive.
        run.alive.fetch_add(1, std::memory_order_acq_rel);
        run.spawned.fetch_add(1, std::memory_order_acq_rel);
        auto session =
            o.sse ? detail::run_sse_session(w, run, i) : detail::run_ws_session(w, run, i);
        net::co_spawn(w.ioc, std::move(session), [&w, &run](std::exception_ptr e) {
            run.alive.fetch_sub(1, std::memory_order_acq_rel);
            if (!e)
                return;
            w.m.error("exception");
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::fprintf(stderr, "loadgen: session failed: %s\n", x.what());
            }
        });
    }
}

std::size_t phases_needed(const options& o)
{
    switch (o.mode) {
    case pattern::burst:
        return std::min(o.rounds, detail::max_phases - 1);
    case pattern::reconnect:
        return 1;
    case pattern::chat:
    case pattern::idle:
        break;
    }
    return 0;
}

tcp::endpoint resolve(const target_url& url)
{
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    error_code ec;
    const auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec || results.empty())
        throw std::runtime_error("--url: cannot resolve " + url.host + ": " + ec.message());
    for (const auto& r : results)
        if (r.endpoint().address().is_v4())
            return r.endpoint();
    return results.begin()->endpoint();
}

std::uint64_t own_rss_peak_kib()
{
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<std::uint64_t>(ru.ru_maxrss);
}

} // namespace

run_report run_load(const options& o)
{
    auto url = parse_url(o.url);
    if (!url)
        throw std::runtime_error("--url: expected ws://HOST:PORT/PATH or http://HOST:PORT/PATH");
    if (o.sse != (url->scheme == "http"))
        throw std::runtime_error(
            o.sse ? "--url: --sse needs an http:// URL" : "--url: expected a ws:// URL (or --sse)"
        );

    shared_run run(o);
    run.url = *url;
    run.endpoint = resolve(run.url);
    run.loopback =
        run.endpoint.address().is_v4() && run.endpoint.address().to_v4().to_bytes()[0] == 127;
    run.chat_text = chat_content(o.tokens, o.interval_ms, o.stamp);

    run_report report;
    report.opts = o;
    const bool measure = !o.relay_pids.empty();
    proc_sample before;
    if (measure) {
        before = read_procs(o.relay_pids);
        report.relay.measured = before.ok;
        report.relay.rss_baseline_kib = before.rss_kib;
        report.relay.rss_peak_kib = before.rss_kib;
    }
    const auto own_cpu_before = own_cpu_seconds();

    std::vector<std::unique_ptr<worker>> workers;
    for (unsigned t = 0; t < o.threads; ++t) {
        auto w = std::make_unique<worker>(0x9E3779B97F4A7C15ull * (t + 1));
        w->phase_timer.expires_at(clock::time_point::max());
        if (o.mode == pattern::burst) {
            w->m.round_ttft_us.resize(o.rounds);
            w->m.round_exact.resize(o.rounds);
        }
        workers.push_back(std::move(w));
    }

    report.ramp_s = static_cast<double>(o.sessions) / o.ramp;
    run.start = clock::now();
    run.soft_end =
        run.start +
        std::chrono::microseconds(static_cast<std::int64_t>((report.ramp_s + o.duration_s) * 1e6));
    run.hard_end =
        run.soft_end + std::chrono::microseconds(static_cast<std::int64_t>(o.grace_s * 1e6));

    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < workers.size(); ++t) {
        auto& w = *workers[t];
        guards.push_back(net::make_work_guard(w.ioc));
        net::co_spawn(w.ioc, ramp(w, run, t, workers.size()), [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
        threads.emplace_back([&w] { w.ioc.run(); });
    }

    const auto post_all = [&](auto f) {
        for (auto& w : workers)
            net::post(w->ioc, [&w = *w, f] { f(w); });
    };

    const auto needed = phases_needed(o);
    auto next_sample = clock::now();
    std::optional<clock::time_point> all_connected;
    bool loaded_taken = false;
    std::optional<clock::time_point> all_arrived_at;
    for (;;) {
        std::this_thread::sleep_for(tick);
        const auto now = clock::now();
        if (measure && now >= next_sample) {
            next_sample = now + proc_sample_every;
            const auto s = read_procs(o.relay_pids);
            if (s.ok)
                report.relay.rss_peak_kib = std::max(report.relay.rss_peak_kib, s.rss_kib);
            if (s.ok && all_connected && !loaded_taken && now >= *all_connected + settle) {
                report.relay.rss_loaded_kib = s.rss_kib;
                loaded_taken = true;
            }
        }

        const auto spawned = run.spawned.load(std::memory_order_acquire);
        const auto alive = run.alive.load(std::memory_order_acquire);
        if (!all_connected && run.connected.load(std::memory_order_acquire) >= o.sessions)
            all_connected = now;
        if (spawned >= o.sessions && alive == 0)
            break;

        const auto next_phase = run.released_phase.load(std::memory_order_acquire) + 1;
        if (next_phase <= needed && spawned >= o.sessions && alive > 0 &&
            run.arrived[next_phase].load(std::memory_order_acquire) >= alive) {
            if (!all_arrived_at)
                all_arrived_at = now;
            const auto pause = next_phase > 1 ? round_pause : std::chrono::milliseconds(0);
            if (now >= *all_arrived_at + pause) {
                all_arrived_at.reset();
                run.released_at_us[next_phase].store(run.now_us(), std::memory_order_release);
                run.released_phase.store(next_phase, std::memory_order_release);
                post_all([](worker& w) { w.phase_timer.cancel(); });
            }
        }

        if (now >= run.hard_end && !run.closing.exchange(true)) {
            post_all([](worker& w) {
                for (auto* s : w.sockets) {
                    error_code ignored;
                    s->close(ignored);
                }
                w.phase_timer.cancel();
            });
        }
        if (now >= run.hard_end + stop_after_close) {
            std::fprintf(stderr, "loadgen: %zu sessions did not end; stopping\n", alive);
            for (auto& w : workers)
                w->ioc.stop();
            break;
        }
    }
    const auto ended = clock::now();
    guards.clear();
    for (auto& t : threads)
        t.join();

    report.wall_s = std::chrono::duration<double>(ended - run.start).count();
    if (measure) {
        const auto after = read_procs(o.relay_pids);
        if (after.ok) {
            report.relay.cpu = {
                after.cpu.user_s - before.cpu.user_s, after.cpu.system_s - before.cpu.system_s};
            report.relay.rss_end_kib = after.rss_kib;
            report.relay.rss_peak_kib = std::max(report.relay.rss_peak_kib, after.rss_kib);
            if (!loaded_taken)
                report.relay.rss_loaded_kib = report.relay.rss_peak_kib;
        } else {
            report.relay.measured = false;
        }
    }
    report.own_cpu_s = own_cpu_seconds() - own_cpu_before;
    report.own_rss_peak_kib = own_rss_peak_kib();
    for (auto& w : workers)
        report.m.merge(w->m);
    return report;
}

} // namespace tokenrelay::loadgen
