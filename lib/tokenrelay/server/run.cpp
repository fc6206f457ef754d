#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/tls_client_context.hpp>
#include <tokenrelay/http/listener.hpp>
#include <tokenrelay/server/drain.hpp>
#include <tokenrelay/server/memory_trim.hpp>
#include <tokenrelay/server/run.hpp>
#include <tokenrelay/upstream/demo_source.hpp>
#include <tokenrelay/upstream/endpoint.hpp>
#include <tokenrelay/upstream/http_source.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tokenrelay::server {
namespace {

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

namespace {

/// The upstream named by --upstream; none for the demo model.
using upstream_target = std::optional<upstream::endpoint>;

upstream_target resolve_upstream(const config::relay_config& cfg)
{
    if (cfg.upstream.empty())
        return std::nullopt;
    auto parsed = upstream::parse_endpoint(cfg.upstream);
    if (!parsed.value)
        throw std::runtime_error("--upstream: " + parsed.error);
    return parsed.value;
}

/// One single-threaded event loop per thread: a loop's sockets, timers, upstream pool and
/// TLS context are only ever touched by its own thread.
void make_loops(
    loop_set& r, unsigned threads, const config::relay_config& cfg, const upstream_target& up
)
{
    for (unsigned i = 0; i < threads; ++i) {
        r.contexts.push_back(std::make_unique<event_loop>(1));
        const auto tls = up && up->tls ? make_client_tls_context(cfg.upstream_ca)
                                       : std::shared_ptr<ssl::context>{};
        r.sources.push_back(make_source(*r.contexts.back(), cfg, up, tls));
        r.loops.push_back(std::make_unique<runtime::loop_context>(
            r.contexts.back()->get_executor(), *r.sources.back()
        ));
    }
}

void listen(loop_set& r, runtime::relay_state& state)
{
    std::vector<net::io_context*> contexts;
    for (auto& c : r.contexts)
        contexts.push_back(c.get());
    r.acceptors = http_server::open_acceptors(
        contexts, listen_endpoint(*r.contexts.front(), state.config.listen)
    );
    for (std::size_t i = 0; i < r.contexts.size(); ++i)
        net::co_spawn(
            *r.contexts[i],
            http_server::accept_loop(*r.acceptors[i], *r.loops[i], state),
            log::task_failure{"accept_loop"}
        );
}

/// Runs every loop but the first on a thread of its own.
std::vector<std::thread> start_workers(loop_set& r)
{
    std::vector<std::thread> workers;
    // The drain signals go to the main thread only: the workers start with them blocked.
    // The main thread then unblocks them, also when the relay was started with them
    // blocked (a parent's mask is inherited), which would otherwise leave SIGINT and
    // SIGTERM pending forever and the relay undrainable.
    const blocked_signals drain_only_on_main{SIGINT, SIGTERM};
    for (std::size_t i = 1; i < r.contexts.size(); ++i)
        workers.emplace_back([&c = *r.contexts[i]] { c.run(); });
    return workers;
}

void announce(
    const tcp::acceptor& acceptor,
    unsigned threads,
    const upstream_target& up,
    const config::relay_config& cfg
)
{
    const auto local = acceptor.local_endpoint();
    const auto host = local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                              : local.address().to_string();
    log::info(
        "relay_started",
        {{"listen", host + ":" + std::to_string(local.port())},
         {"threads", std::to_string(threads)},
         {"upstream", up ? up->authority() : std::string("demo")},
         {"static", cfg.static_dir}}
    );
    std::cout << "listening on http://" << host << ":" << local.port() << "/" << std::endl;
}

} // namespace

int run_relay(config::relay_config cfg)
{
    if (cfg.static_dir.empty())
        cfg.static_dir = default_static_dir();
    const unsigned threads =
        cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
    const auto up = resolve_upstream(cfg);

    loop_set r;
    make_loops(r, threads, cfg, up);
    runtime::relay_state state(std::move(cfg));
    if (state.store) {
        for (auto& c : r.contexts)
            state.store->add_loop(c->get_executor());
        state.store->start();
    }
    listen(r, state);

    auto& main_ctx = *r.contexts.front();
    // Installed before the listening line is printed: a signal from then on drains.
    net::signal_set signals(main_ctx, SIGINT, SIGTERM);
    net::co_spawn(main_ctx, drain_on_signal(signals, state, r), log::task_failure{"drain"});
    net::co_spawn(main_ctx, return_freed_memory(state), log::task_failure{"memory_trim"});

    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto& c : r.contexts)
        guards.push_back(net::make_work_guard(*c));
    auto workers = start_workers(r);
    announce(*r.acceptors.front(), threads, up, state.config);

    main_ctx.run();
    r.stop_all();
    for (auto& w : workers)
        w.join();
    for (auto& s : state.sessions.all())
        s->drop_subscribers();
    if (state.store)
        state.store->stop();
    r.shut_down();
    return 0;
}

} // namespace tokenrelay::server
