#include <tokenrelay/metrics/metrics.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <initializer_list>
#include <unistd.h>

namespace tokenrelay::metrics {
namespace {

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type)
{
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value)
{
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.17g\n", value);
    out += buf;
}

void simple(
    std::string& out,
    std::string_view name,
    std::string_view help,
    std::string_view type,
    double value
)
{
    header(out, name, help, type);
    sample(out, name, {}, value);
}

double load(const std::atomic<std::uint64_t>& a)
{
    return static_cast<double>(a.load(std::memory_order_relaxed));
}

double resident_bytes()
{
    std::ifstream statm("/proc/self/statm");
    long pages = 0;
    long resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double open_fds()
{
    DIR* dir = opendir("/proc/self/fd");
    if (!dir)
        return 0;
    double n = 0;
    while (auto* e = readdir(dir))
        if (e->d_name[0] != '.')
            ++n;
    closedir(dir);
    return n - 1; // the directory stream's own descriptor
}

} // namespace

void histogram::observe(double ms) noexcept
{
    const auto it = std::lower_bound(bounds_ms.begin(), bounds_ms.end(), ms);
    buckets_[static_cast<std::size_t>(it - bounds_ms.begin())].fetch_add(
        1, std::memory_order_relaxed
    );
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(
        static_cast<std::uint64_t>(std::max(0.0, ms) * 1000), std::memory_order_relaxed
    );
}

void histogram::render(std::string& out, std::string_view name, std::string_view help) const
{
    header(out, name, help, "histogram");
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_ms.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        char le[32];
        std::snprintf(le, sizeof le, "le=\"%g\"", bounds_ms[i] / 1000.0);
        sample(out, bucket, le, static_cast<double>(cumulative));
    }
    cumulative += buckets_[bounds_ms.size()].load(std::memory_order_relaxed);
    sample(out, bucket, "le=\"+Inf\"", static_cast<double>(cumulative));
    sample(out, std::string(name) + "_sum", {}, load(sum_us_) / 1e6);
    sample(out, std::string(name) + "_count", {}, static_cast<double>(cumulative));
}

relay_metrics& global() noexcept
{
    static relay_metrics instance;
    return instance;
}

namespace {

/// One line of a family without labels: the exposition is a table of these.
struct simple_metric
{
    std::string_view name;
    std::string_view help;
    std::string_view type;
    double value;
};

void render_all(std::string& out, std::initializer_list<simple_metric> metrics)
{
    for (const auto& m : metrics)
        simple(out, m.name, m.help, m.type, m.value);
}

double count(std::uint64_t n)
{
    return static_cast<double>(n);
}

void render_sessions(std::string& out, const gauges& g)
{
    simple(
        out,
        "tokenrelay_open_connections",
        "Open WebSocket connections.",
        "gauge",
        count(g.open_connections)
    );
    header(out, "tokenrelay_sessions", "Sessions held, by state.", "gauge");
    sample(out, "tokenrelay_sessions", "state=\"attached\"", count(g.live_sessions));
    sample(out, "tokenrelay_sessions", "state=\"detached\"", count(g.detached_sessions));
}

void render_upstream_connections(std::string& out, const relay_metrics& m)
{
    // Two loads, not one snapshot: a scrape between two updates of another loop's pool is
    // clamped rather than showing a negative count.
    const auto idle =
        std::max<std::int64_t>(0, m.upstream_idle_connections.load(std::memory_order_relaxed));
    const auto all =
        std::max<std::int64_t>(idle, m.upstream_connections.load(std::memory_order_relaxed));
    header(
        out,
        "tokenrelay_upstream_connections",
        "Open upstream connections: carrying a request, or idle in the keep-alive pools.",
        "gauge"
    );
    sample(
        out, "tokenrelay_upstream_connections", "state=\"in_use\"", static_cast<double>(all - idle)
    );
    sample(out, "tokenrelay_upstream_connections", "state=\"idle\"", static_cast<double>(idle));
}

void render_session_counters(std::string& out, const gauges& g)
{
    render_all(
        out,
        {
            {"tokenrelay_draining",
             "1 while the relay drains after a signal.",
             "gauge",
             g.draining ? 1.0 : 0.0},
            {"tokenrelay_sessions_created_total",
             "Sessions created.",
             "counter",
             count(g.sessions_created)},
            {"tokenrelay_sessions_resumed_total",
             "Successful resumes.",
             "counter",
             count(g.sessions_resumed)},
            {"tokenrelay_sessions_taken_over_total",
             "Connections closed (4001) for a newer one past the connections per session.",
             "counter",
             count(g.sessions_taken_over)},
            {"tokenrelay_connections_too_slow_total",
             "Connections closed (4002) because the replay log no longer held what they had "
             "not sent.",
             "counter",
             count(g.connections_too_slow)},
            {"tokenrelay_sessions_expired_total",
             "Sessions forgotten after the resume window.",
             "counter",
             count(g.sessions_expired)},
            {"tokenrelay_sessions_evicted_total",
             "Detached sessions ended early: their client's bound on sessions, or the bound on "
             "detached sessions of all clients.",
             "counter",
             count(g.sessions_evicted)},
        }
    );
}

void render_token_counters(std::string& out, const relay_metrics& m)
{
    render_all(
        out,
        {
            {"tokenrelay_generations_total",
             "Generations started.",
             "counter",
             load(m.generations_started)},
            {"tokenrelay_tokens_relayed_total",
             "Tokens (and reasoning tokens) received from the model.",
             "counter",
             load(m.tokens_relayed)},
            {"tokenrelay_token_bytes_relayed_total",
             "Bytes of token text received from the model.",
             "counter",
             load(m.token_bytes_relayed)},
            {"tokenrelay_frames_sent_total",
             "WebSocket frames sent to clients.",
             "counter",
             load(m.frames_sent)},
            {"tokenrelay_bytes_sent_total",
             "WebSocket payload bytes sent to clients.",
             "counter",
             load(m.bytes_sent)},
            {"tokenrelay_prompt_tokens_total",
             "Prompt tokens, as reported by the upstream or estimated by the relay.",
             "counter",
             load(m.prompt_tokens)},
            {"tokenrelay_completion_tokens_total",
             "Completion tokens, as reported by the upstream or counted by the relay.",
             "counter",
             load(m.completion_tokens)},
            {"tokenrelay_estimated_usage_total",
             "Generations whose usage the relay estimated because the upstream sent none.",
             "counter",
             load(m.estimated_usage)},
            {"tokenrelay_cost_usd_total",
             "Cost in USD at the configured prices, to the micro-dollar.",
             "counter",
             load(m.cost_micro_usd) / 1e6},
        }
    );
}

void render_labelled_counters(std::string& out, const relay_metrics& m)
{
    header(
        out,
        "tokenrelay_upstream_responses_total",
        "Upstream responses by status class; class=\"error\" is a connection or TLS failure.",
        "counter"
    );
    static constexpr std::array<std::string_view, 6> classes{
        "error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < classes.size(); ++i)
        sample(
            out,
            "tokenrelay_upstream_responses_total",
            "class=\"" + std::string(classes[i]) + "\"",
            load(m.upstream_responses[i])
        );
    simple(
        out,
        "tokenrelay_upstream_retries_total",
        "Upstream attempts retried before the first token.",
        "counter",
        load(m.upstream_retries)
    );
    header(out, "tokenrelay_errors_total", "Error frames sent to clients, by code.", "counter");
    for (int c = static_cast<int>(errc::bad_json); c <= static_cast<int>(errc::store_unavailable);
         ++c)
        sample(
            out,
            "tokenrelay_errors_total",
            "code=\"" + std::string(code_name(static_cast<errc>(c))) + "\"",
            load(m.errors_by_code[static_cast<std::size_t>(c)])
        );
}

void render_refusals_and_latency(std::string& out, const relay_metrics& m)
{
    render_all(
        out,
        {
            {"tokenrelay_rate_limit_refusals_total",
             "Chats refused by the rate limit.",
             "counter",
             load(m.rate_limit_refusals)},
            {"tokenrelay_upgrades_refused_total",
             "WebSocket upgrades refused (limits, token, origin, draining).",
             "counter",
             load(m.upgrades_refused)},
            {"tokenrelay_backpressure_pauses_total",
             "Times the upstream read paused for a slow client.",
             "counter",
             load(m.backpressure_pauses)},
        }
    );
    m.ttft.render(
        out, "tokenrelay_time_to_first_token_seconds", "Time from chat to the first token."
    );
    m.inter_token.render(
        out, "tokenrelay_inter_token_seconds", "Time between consecutive tokens from the model."
    );
}

void render_store(std::string& out, const relay_metrics& m, bool up)
{
    render_all(
        out,
        {
            {"tokenrelay_store_up",
             "1 while the shared session store answers.",
             "gauge",
             up ? 1.0 : 0.0},
            {"tokenrelay_store_appends_total",
             "Log entries written to the store.",
             "counter",
             load(m.store_appends)},
            {"tokenrelay_store_append_batches_total",
             "Appends to the store: one per session per round trip, however many entries.",
             "counter",
             load(m.store_append_batches)},
            {"tokenrelay_store_bytes_total",
             "Bytes of appends sent to the store.",
             "counter",
             load(m.store_bytes)},
            {"tokenrelay_store_writes_total",
             "Writes to the store; each carries every request its loop had ready.",
             "counter",
             load(m.store_writes)},
            {"tokenrelay_store_requests_total",
             "Requests sent to the store (requests per write: the batch size).",
             "counter",
             load(m.store_requests)},
            {"tokenrelay_store_following_sessions",
             "Sessions here following a reply that another instance generates.",
             "gauge",
             static_cast<double>(m.store_following.load(std::memory_order_relaxed))},
            {"tokenrelay_store_takeovers_total",
             "Replies ended as interrupted after their instance's lease lapsed.",
             "counter",
             load(m.store_takeovers)},
            {"tokenrelay_store_sessions_local_total",
             "Sessions that delivered frames without the store (it was down) and stay here.",
             "counter",
             load(m.store_sessions_local)},
            {"tokenrelay_store_loads_total",
             "Sessions loaded from the store to resume them here.",
             "counter",
             load(m.store_loads)},
        }
    );
    header(
        out,
        "tokenrelay_store_errors_total",
        "Appends that failed: refused by Redis, or the connection down, too slow, lost or "
        "garbled.",
        "counter"
    );
    static constexpr std::array<std::string_view, static_cast<std::size_t>(store_error_kind::count)>
        kinds{"refused", "down", "timeout", "lost", "protocol"};
    for (std::size_t i = 0; i < kinds.size(); ++i)
        sample(
            out,
            "tokenrelay_store_errors_total",
            "kind=\"" + std::string(kinds[i]) + "\"",
            load(m.store_errors[i])
        );
    m.store_latency.render(
        out, "tokenrelay_store_append_seconds", "Round trip of an append to the store."
    );
}

} // namespace

std::string render(const gauges& g)
{
    const auto& m = global();
    std::string out;
    out.reserve(8192);
    render_sessions(out, g);
    render_all(
        out,
        {
            {"tokenrelay_running_generations",
             "Generations streaming now.",
             "gauge",
             count(g.running_generations)},
            {"tokenrelay_upstream_requests_in_flight",
             "Upstream requests running now (held --max-upstream-requests slots).",
             "gauge",
             count(g.upstream_requests_in_flight)},
        }
    );
    render_upstream_connections(out, m);
    render_session_counters(out, g);
    render_token_counters(out, m);
    render_labelled_counters(out, m);
    render_refusals_and_latency(out, m);
    if (g.store_up)
        render_store(out, m, *g.store_up);
    render_all(
        out,
        {
            {"process_resident_memory_bytes",
             "Resident memory size in bytes.",
             "gauge",
             resident_bytes()},
            {"process_open_fds", "Number of open file descriptors.", "gauge", open_fds()},
        }
    );
    return out;
}

} // namespace tokenrelay::metrics
