#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <testing/loadgen/report.hpp>

namespace tokenrelay::loadgen {
namespace {

namespace json = boost::json;

double ms(std::uint64_t us)
{
    return static_cast<double>(us) / 1000.0;
}

json::object summary(const histogram& h)
{
    json::object o;
    o["count"] = h.count();
    o["p50"] = ms(h.percentile(50));
    o["p90"] = ms(h.percentile(90));
    o["p99"] = ms(h.percentile(99));
    o["p999"] = ms(h.percentile(99.9));
    o["max"] = ms(h.max());
    o["mean"] = h.mean() / 1000.0;
    return o;
}

double per_second(std::uint64_t n, double seconds)
{
    return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

// Tokens and frames per second over the span in which tokens arrived.
double token_window_s(const metrics& m)
{
    if (m.first_token_us < 0 || m.last_token_us <= m.first_token_us)
        return 0;
    return static_cast<double>(m.last_token_us - m.first_token_us) / 1e6;
}

std::string fmt(const char* f, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

/// Seconds of CPU to microseconds per relayed token (0 when no token arrived).
double us_per_token(double seconds, const metrics& m)
{
    return m.tokens ? seconds * 1e6 / static_cast<double>(m.tokens) : 0.0;
}

/// Seconds of CPU to milliseconds per completed reply (0 when none completed): the cost of
/// a whole chat, connection and upstream request included, when each connection chats once.
double ms_per_reply(double seconds, const metrics& m)
{
    return m.replies_completed ? seconds * 1e3 / static_cast<double>(m.replies_completed) : 0.0;
}

/// The sum, `unit`, then both parts: "11.56 us/token (user 4.25, system 7.31)". The
/// relay's own code shows in user time, its syscalls and the kernel's TCP work in system.
std::string split_text(double user, double system, const char* unit)
{
    return fmt("%.2f", user + system) + unit + " (user " + fmt("%.2f", user) + ", system " +
           fmt("%.2f", system) + ")";
}

} // namespace

void metrics::merge(const metrics& o)
{
    sessions_opened += o.sessions_opened;
    sessions_failed += o.sessions_failed;
    replies_started += o.replies_started;
    replies_completed += o.replies_completed;
    replies_exact += o.replies_exact;
    replies_mismatched += o.replies_mismatched;
    replies_refused += o.replies_refused;
    replies_abandoned += o.replies_abandoned;
    tokens += o.tokens;
    frames += o.frames;
    pings += o.pings;
    pongs += o.pongs;
    seq_errors += o.seq_errors;
    drops += o.drops;
    resumed += o.resumed;
    resumed_exact_in_time += o.resumed_exact_in_time;
    for (const auto& [code, n] : o.errors)
        errors[code] += n;
    connect_us.merge(o.connect_us);
    ttft_us.merge(o.ttft_us);
    token_latency_us.merge(o.token_latency_us);
    resume_us.merge(o.resume_us);
    if (round_ttft_us.size() < o.round_ttft_us.size())
        round_ttft_us.resize(o.round_ttft_us.size());
    for (std::size_t i = 0; i < o.round_ttft_us.size(); ++i)
        round_ttft_us[i].merge(o.round_ttft_us[i]);
    if (round_exact.size() < o.round_exact.size())
        round_exact.resize(o.round_exact.size());
    for (std::size_t i = 0; i < o.round_exact.size(); ++i)
        round_exact[i] += o.round_exact[i];
    if (o.first_token_us >= 0 && (first_token_us < 0 || o.first_token_us < first_token_us))
        first_token_us = o.first_token_us;
    last_token_us = std::max(last_token_us, o.last_token_us);
}

std::uint64_t metrics::error_total() const
{
    std::uint64_t n = 0;
    for (const auto& [code, count] : errors)
        n += count;
    return n;
}

std::string to_json(const run_report& r)
{
    const auto& m = r.m;
    const auto& o = r.opts;
    json::object j;
    j["label"] = o.label;
    j["mode"] = pattern_name(o.mode);
    j["transport"] = o.sse ? "sse" : (o.tutorial ? "ws-tutorial" : "ws");
    j["url"] = o.url;
    j["sessions"] = o.sessions;
    j["ramp_per_s"] = o.ramp;
    j["duration_s"] = o.duration_s;
    j["tokens_per_reply"] = o.tokens;
    j["interval_ms"] = o.interval_ms;
    j["think_ms"] = o.think_ms;
    j["chats_per_session"] = o.chats_per_session;
    j["wall_s"] = r.wall_s;
    j["ramp_s"] = r.ramp_s;
    j["sessions_opened"] = m.sessions_opened;
    j["sessions_failed"] = m.sessions_failed;
    j["replies_started"] = m.replies_started;
    j["replies_completed"] = m.replies_completed;
    j["replies_exact"] = m.replies_exact;
    j["replies_mismatched"] = m.replies_mismatched;
    j["replies_refused"] = m.replies_refused;
    j["replies_abandoned"] = m.replies_abandoned;
    j["seq_errors"] = m.seq_errors;
    json::object errors;
    for (const auto& [code, n] : m.errors)
        errors[code] = n;
    j["errors"] = std::move(errors);
    j["errors_total"] = m.error_total();
    j["tokens"] = m.tokens;
    j["frames"] = m.frames;
    const auto window = token_window_s(m);
    j["token_window_s"] = window;
    j["tokens_per_s"] = per_second(m.tokens, window);
    j["frames_per_s"] = per_second(m.frames, window);
    j["pings"] = m.pings;
    j["pongs"] = m.pongs;
    j["connect_ms"] = summary(m.connect_us);
    j["ttft_ms"] = summary(m.ttft_us);
    j["token_latency_ms"] = summary(m.token_latency_us);
    json::array rounds;
    for (std::size_t i = 0; i < m.round_ttft_us.size(); ++i) {
        json::object round;
        round["round"] = i + 1;
        round["ttft_ms"] = summary(m.round_ttft_us[i]);
        round["replies_exact"] = i < m.round_exact.size() ? m.round_exact[i] : 0;
        rounds.push_back(std::move(round));
    }
    j["rounds"] = std::move(rounds);
    json::object resume;
    resume["drops"] = m.drops;
    resume["resumed"] = m.resumed;
    resume["exact_in_time"] = m.resumed_exact_in_time;
    resume["deadline_s"] = o.resume_deadline_s;
    resume["time_ms"] = summary(m.resume_us);
    j["resume"] = std::move(resume);

    json::object relay;
    relay["measured"] = r.relay.measured;
    json::array pids;
    for (int pid : o.relay_pids)
        pids.push_back(pid);
    relay["pids"] = std::move(pids);
    const auto& cpu = r.relay.cpu;
    relay["cpu_s"] = cpu.total_s();
    relay["user_s"] = cpu.user_s;
    relay["system_s"] = cpu.system_s;
    relay["cpu_us_per_token"] = us_per_token(cpu.total_s(), m);
    relay["user_us_per_token"] = us_per_token(cpu.user_s, m);
    relay["system_us_per_token"] = us_per_token(cpu.system_s, m);
    relay["cpu_ms_per_reply"] = ms_per_reply(cpu.total_s(), m);
    relay["user_ms_per_reply"] = ms_per_reply(cpu.user_s, m);
    relay["system_ms_per_reply"] = ms_per_reply(cpu.system_s, m);
    relay["cpu_utilisation"] = r.wall_s > 0 ? cpu.total_s() / r.wall_s : 0.0;
    relay["rss_baseline_kib"] = r.relay.rss_baseline_kib;
    relay["rss_loaded_kib"] = r.relay.rss_loaded_kib;
    relay["rss_peak_kib"] = r.relay.rss_peak_kib;
    relay["rss_end_kib"] = r.relay.rss_end_kib;
    const auto grown = r.relay.rss_loaded_kib > r.relay.rss_baseline_kib
                           ? r.relay.rss_loaded_kib - r.relay.rss_baseline_kib
                           : 0;
    relay["rss_per_session_bytes"] = m.sessions_opened ? static_cast<double>(grown) * 1024.0 /
                                                             static_cast<double>(m.sessions_opened)
                                                       : 0.0;
    j["relay"] = std::move(relay);

    json::object self;
    self["cpu_s"] = r.own_cpu_s;
    self["threads"] = o.threads;
    self["rss_peak_kib"] = r.own_rss_peak_kib;
    j["loadgen"] = std::move(self);
    return json::serialize(j);
}

std::string to_table(const run_report& r)
{
    const auto& m = r.m;
    const auto window = token_window_s(m);
    std::string t;
    const auto row = [&t](const std::string& k, const std::string& v) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "  %-28s %s\n", k.c_str(), v.c_str());
        t += buf;
    };
    const auto pct = [](const histogram& h) {
        return fmt("p50 %.2f", ms(h.percentile(50))) + fmt("  p90 %.2f", ms(h.percentile(90))) +
               fmt("  p99 %.2f", ms(h.percentile(99))) + fmt("  max %.2f ms", ms(h.max())) +
               "  (n=" + std::to_string(h.count()) + ")";
    };
    t += "loadgen " + std::string(pattern_name(r.opts.mode)) +
         (r.opts.label.empty() ? "" : " [" + r.opts.label + "]") + ": " + r.opts.url + "\n";
    row("sessions opened / failed",
        std::to_string(m.sessions_opened) + " / " + std::to_string(m.sessions_failed));
    row("replies completed / exact",
        std::to_string(m.replies_completed) + " / " + std::to_string(m.replies_exact));
    row("replies mismatched / refused / abandoned",
        std::to_string(m.replies_mismatched) + " / " + std::to_string(m.replies_refused) + " / " +
            std::to_string(m.replies_abandoned));
    std::string errs = std::to_string(m.error_total());
    for (const auto& [code, n] : m.errors)
        errs += "  " + code + "=" + std::to_string(n);
    row("errors", errs);
    row("connect", pct(m.connect_us));
    row("time to first token", pct(m.ttft_us));
    for (std::size_t i = 0; i < m.round_ttft_us.size(); ++i)
        row("  round " + std::to_string(i + 1) + " ttft", pct(m.round_ttft_us[i]));
    row("token latency", pct(m.token_latency_us));
    row("tokens / frames",
        std::to_string(m.tokens) + " / " + std::to_string(m.frames) +
            fmt("  (%.0f tokens/s", per_second(m.tokens, window)) +
            fmt(", %.0f frames/s)", per_second(m.frames, window)));
    if (r.opts.mode == pattern::idle)
        row("pings / pongs", std::to_string(m.pings) + " / " + std::to_string(m.pongs));
    if (r.opts.mode == pattern::reconnect) {
        row("dropped / resumed / exact in time",
            std::to_string(m.drops) + " / " + std::to_string(m.resumed) + " / " +
                std::to_string(m.resumed_exact_in_time));
        row("drop to reply end", pct(m.resume_us));
    }
    if (r.relay.measured) {
        const auto& cpu = r.relay.cpu;
        row("relay cpu",
            split_text(cpu.user_s, cpu.system_s, " s") +
                (m.tokens ? "  " + split_text(
                                       us_per_token(cpu.user_s, m),
                                       us_per_token(cpu.system_s, m),
                                       " us/token"
                                   )
                          : std::string{}));
        if (r.opts.chats_per_session > 0 && m.replies_completed)
            row("relay cpu per reply",
                split_text(ms_per_reply(cpu.user_s, m), ms_per_reply(cpu.system_s, m), " ms"));
        row("relay rss baseline / loaded / peak",
            std::to_string(r.relay.rss_baseline_kib) + " / " +
                std::to_string(r.relay.rss_loaded_kib) + " / " +
                std::to_string(r.relay.rss_peak_kib) + " KiB");
        if (m.sessions_opened && r.relay.rss_loaded_kib > r.relay.rss_baseline_kib)
            row("relay rss per session",
                fmt("%.0f bytes",
                    static_cast<double>(r.relay.rss_loaded_kib - r.relay.rss_baseline_kib) *
                        1024.0 / static_cast<double>(m.sessions_opened)));
    }
    row("loadgen cpu", fmt("%.2f s", r.own_cpu_s) + fmt(" over %.1f s wall", r.wall_s));
    return t;
}

std::string latency_csv(const histogram& h)
{
    std::string out = "# token latency (ms)  cumulative fraction\n";
    char buf[64];
    for (const auto& [us, frac] : h.cdf()) {
        std::snprintf(buf, sizeof buf, "%.3f %.6f\n", ms(us), frac);
        out += buf;
    }
    return out;
}

} // namespace tokenrelay::loadgen
