#include <tokenrelay/core/log.hpp>
#include <tokenrelay/http/completions.hpp>
#include <tokenrelay/http/listener.hpp>
#include <tokenrelay/http/server.hpp>
#include <tokenrelay/upstream/demo_source.hpp>
#include <tokenrelay/upstream/endpoint.hpp>
#include <tokenrelay/upstream/http_source.hpp>
#include <tokenrelay/upstream/tls_context.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <memory>
#include <pthread.h>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tokenrelay::http_server {
namespace {

using clock = std::chrono::steady_clock;

/// Blocks signals in the calling thread for its scope (threads started meanwhile inherit
/// the block) and unblocks them at its end, whatever the mask was before.
class blocked_signals
{
public:
    blocked_signals(std::initializer_list<int> signals)
    {
        ::sigemptyset(&set_);
        for (int s : signals)
            ::sigaddset(&set_, s);
        ::pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    }
    ~blocked_signals() { ::pthread_sigmask(SIG_UNBLOCK, &set_, nullptr); }
    blocked_signals(const blocked_signals&) = delete;
    blocked_signals& operator=(const blocked_signals&) = delete;

private:
    sigset_t set_;
};

std::size_t running_generations(const ws::relay_state& state)
{
    std::size_t n = 0;
    for (const auto& s : state.sessions.all())
        n += s->generation_running() ? 1 : 0;
    return n;
}

/// Both doors' work in progress: WebSocket generations and completion requests
/// (section 1), whose answers may finish within the drain timeout just the same.
bool idle(const ws::relay_state& state)
{
    return running_generations(state) == 0 && completions_in_flight() == 0;
}

/// Polls `done` every 20 ms until it holds or `deadline` passes.
template <class Done> awaitable<void> wait_until(Done done, clock::time_point deadline)
{
    net::steady_timer timer(co_await net::this_coro::executor);
    while (!done() && clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(use_tuple);
    }
}

/// Section 2: on SIGTERM/SIGINT stop taking sessions and completion requests, let running
/// generations and completions finish within the drain timeout, end the rest (reason
/// "shutdown"), close every connection with 1001, then stop. A second signal stops at
/// once.
// glibc keeps freed memory in its arenas and returns only what lies at a heap's top, so
// after a storm of sessions ends (a client that opened thousands and left), the relay's
// RSS would stay at its peak. Every few seconds, when many sessions have ended since the
// last look, malloc_trim hands the free pages in the middle of the arenas back too.
constexpr auto trim_check_interval = std::chrono::seconds(5);
constexpr std::uint64_t trim_after_sessions_ended = 1000;

awaitable<void> return_freed_memory(ws::relay_state& state)
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

awaitable<void> drain_on_signal(
    net::signal_set& signals,
    ws::relay_state& state,
    std::vector<std::unique_ptr<tcp::acceptor>>& acceptors,
    std::vector<std::unique_ptr<net::io_context>>& contexts
)
{
    auto ex = co_await net::this_coro::executor;
    auto [ec, signo] = co_await signals.async_wait(use_tuple);
    if (ec)
        co_return;
    log::info("drain_started", {{"signal", std::to_string(signo)}});
    state.draining = true;
    net::co_spawn(
        ex,
        [&signals, &contexts]() -> awaitable<void> {
            auto [ec2, s2] = co_await signals.async_wait(use_tuple);
            if (!ec2) {
                log::warn("drain_aborted", {{"signal", std::to_string(s2)}});
                for (auto& c : contexts)
                    c->stop();
            }
        },
        net::detached
    );

    const auto drain_deadline = clock::now() + state.config.drain_timeout;
    co_await wait_until([&] { return idle(state); }, drain_deadline);
    for (auto& s : state.sessions.all())
        s->stop(session::stop_reason::shutdown);
    // A completion still running when the loops stop would be torn down with them, after
    // the state it points to.
    stop_completions();
    co_await wait_until([&] { return idle(state); }, clock::now() + std::chrono::seconds(3));
    state.connections.close_all();
    co_await wait_until(
        [&] { return state.connections.size() == 0; }, clock::now() + std::chrono::seconds(3)
    );
    // Each acceptor belongs to its loop's thread: close it there, so new connections are
    // refused rather than left in a backlog nobody reads.
    auto closed = std::make_shared<std::atomic<std::size_t>>(0);
    for (auto& a : acceptors)
        net::post(a->get_executor(), [&a = *a, closed] {
            error_code ignored;
            a.close(ignored);
            closed->fetch_add(1);
        });
    co_await wait_until(
        [&] { return closed->load() == acceptors.size(); }, clock::now() + std::chrono::seconds(1)
    );
    log::info("drain_finished");
    for (auto& c : contexts)
        c->stop();
}

tcp::endpoint listen_endpoint(net::io_context& ctx, const config::listen_address& listen)
{
    tcp::resolver resolver(ctx);
    error_code ec;
    auto results = resolver.resolve(
        listen.host,
        std::to_string(listen.port),
        tcp::resolver::passive | tcp::resolver::numeric_service,
        ec
    );
    if (ec || results.empty())
        throw std::runtime_error("--listen: cannot resolve " + listen.host + ": " + ec.message());
    return results.begin()->endpoint();
}

std::unique_ptr<upstream::model_source> make_source(
    net::io_context& ctx,
    const config::relay_config& cfg,
    const std::optional<upstream::endpoint>& target,
    const std::shared_ptr<ssl::context>& tls
)
{
    if (!target)
        return std::make_unique<upstream::demo_source>(ctx.get_executor(), cfg.demo_token_interval);
    upstream::http_source_options opts;
    opts.endpoint = *target;
    opts.api_key = cfg.api_key;
    opts.format = cfg.upstream_format;
    opts.connect_timeout = cfg.upstream_connect_timeout;
    opts.first_token_timeout = cfg.first_token_timeout;
    opts.token_timeout = cfg.token_timeout;
    opts.retry_limits.max_retries = cfg.upstream_max_retries;
    opts.retry_limits.budget = cfg.upstream_retry_budget;
    return std::make_unique<upstream::http_source>(ctx.get_executor(), tls, std::move(opts));
}

} // namespace

std::string default_static_dir()
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (const auto& candidate :
             {exe.parent_path() / "static",
              exe.parent_path().parent_path() / "static",
              exe.parent_path().parent_path() / "share" / "tokenrelay" / "static"}) {
            if (fs::is_regular_file(candidate / "index.html", ec))
                return candidate.string();
        }
    }
    return TOKENRELAY_SOURCE_STATIC_DIR;
}

int run_relay(config::relay_config cfg)
{
    if (cfg.static_dir.empty())
        cfg.static_dir = default_static_dir();
    const unsigned threads =
        cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());

    std::optional<upstream::endpoint> target;
    std::shared_ptr<ssl::context> tls;
    if (!cfg.upstream.empty()) {
        auto parsed = upstream::parse_endpoint(cfg.upstream);
        if (!parsed.value)
            throw std::runtime_error("--upstream: " + parsed.error);
        target = parsed.value;
        if (target->tls)
            tls = upstream::make_client_tls_context(cfg.upstream_ca);
    }

    // One single-threaded event loop per thread: a loop's sockets, timers and upstream
    // pool are only ever touched by its own thread.
    std::vector<std::unique_ptr<net::io_context>> contexts;
    std::vector<std::unique_ptr<upstream::model_source>> sources;
    std::vector<std::unique_ptr<ws::loop_context>> loops;
    for (unsigned i = 0; i < threads; ++i) {
        contexts.push_back(std::make_unique<net::io_context>(1));
        sources.push_back(make_source(*contexts.back(), cfg, target, tls));
        loops.push_back(std::make_unique<ws::loop_context>(ws::loop_context{
            contexts.back()->get_executor(), *sources.back()}));
    }
    ws::relay_state state(cfg);

    auto& main_ctx = *contexts.front();
    std::vector<net::io_context*> ctx_ptrs;
    for (auto& c : contexts)
        ctx_ptrs.push_back(c.get());
    auto acceptors = open_acceptors(ctx_ptrs, listen_endpoint(main_ctx, cfg.listen));
    for (std::size_t i = 0; i < contexts.size(); ++i)
        net::co_spawn(*contexts[i], accept_loop(*acceptors[i], *loops[i], state), net::detached);
    // Installed before the listening line is printed: a signal from then on drains.
    net::signal_set signals(main_ctx, SIGINT, SIGTERM);
    net::co_spawn(main_ctx, drain_on_signal(signals, state, acceptors, contexts), net::detached);
    net::co_spawn(main_ctx, return_freed_memory(state), log::connection_failure);

    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto& c : contexts)
        guards.push_back(net::make_work_guard(*c));
    std::vector<std::thread> workers;
    {
        // The drain signals go to the main thread only: the workers start with them
        // blocked. The main thread then unblocks them, also when the relay was started
        // with them blocked (a parent's mask is inherited), which would otherwise leave
        // SIGINT and SIGTERM pending forever and the relay undrainable.
        const blocked_signals drain_only_on_main{SIGINT, SIGTERM};
        for (std::size_t i = 1; i < contexts.size(); ++i)
            workers.emplace_back([&c = *contexts[i]] { c.run(); });
    }

    const auto local = acceptors.front()->local_endpoint();
    const auto host = local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                              : local.address().to_string();
    log::info(
        "relay_started",
        {{"listen", host + ":" + std::to_string(local.port())},
         {"threads", std::to_string(threads)},
         {"upstream", target ? target->authority() : std::string("demo")},
         {"static", cfg.static_dir}}
    );
    std::cout << "listening on http://" << host << ":" << local.port() << "/" << std::endl;

    main_ctx.run();
    for (auto& c : contexts)
        c->stop();
    for (auto& w : workers)
        w.join();
    for (auto& s : state.sessions.all())
        s->drop_subscriber();
    return 0;
}

} // namespace tokenrelay::http_server
