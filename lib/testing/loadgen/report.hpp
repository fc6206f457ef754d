#pragma once
// Sans-I/O: what a load run measured, merged across threads, and its two renderings: the
// JSON report (--json, read by scripts/bench and the smoke test) and a human table.

#include <cstdint>
#include <map>
#include <string>
#include <testing/loadgen/histogram.hpp>
#include <testing/loadgen/options.hpp>
#include <testing/loadgen/proc_stat.hpp>
#include <vector>

namespace tokenrelay::loadgen {

/// Counters and distributions of one thread (or, merged, of the run). Times in µs.
struct metrics
{
    std::uint64_t sessions_opened = 0;
    std::uint64_t sessions_failed = 0;
    std::uint64_t replies_started = 0;
    std::uint64_t replies_completed = 0; // stream_end (or SSE end) received
    std::uint64_t replies_exact = 0;     // completed with reason stop and the exact text
    std::uint64_t replies_mismatched = 0;
    std::uint64_t replies_refused = 0;   // an error frame instead of a generation
    std::uint64_t replies_abandoned = 0; // still streaming when the run ended
    std::uint64_t tokens = 0;
    std::uint64_t frames = 0;
    std::uint64_t pings = 0;
    std::uint64_t pongs = 0;
    std::uint64_t seq_errors = 0;
    std::uint64_t drops = 0;   // reconnect: connections dropped mid-reply
    std::uint64_t resumed = 0; // reconnect: `session` frame with resumed: true
    std::uint64_t resumed_exact_in_time = 0;
    std::map<std::string, std::uint64_t> errors;
    histogram connect_us;
    histogram ttft_us;
    histogram token_latency_us;
    histogram resume_us; // drop to the resumed reply's stream_end
    std::vector<histogram> round_ttft_us;
    std::vector<std::uint64_t> round_exact;
    std::int64_t first_token_us = -1; // since the run started
    std::int64_t last_token_us = -1;

    void error(const std::string& code) { ++errors[code]; }
    void merge(const metrics& other);
    std::uint64_t error_total() const;
};

/// A process's CPU and memory over the run (from proc_stat samples).
struct process_figures
{
    bool measured = false;
    cpu_times cpu;                      // consumed during the run
    std::uint64_t rss_baseline_kib = 0; // before the first session
    std::uint64_t rss_loaded_kib = 0;   // once every session was open
    std::uint64_t rss_peak_kib = 0;     // highest sample (or VmHWM when higher)
    std::uint64_t rss_end_kib = 0;
};

struct run_report
{
    options opts;
    metrics m;
    double wall_s = 0;
    double ramp_s = 0;
    process_figures relay;
    double own_cpu_s = 0;
    std::uint64_t own_rss_peak_kib = 0;
};

std::string to_json(const run_report& r);
std::string to_table(const run_report& r);
/// Lines of `<latency ms> <cumulative fraction>`, for gnuplot.
std::string latency_csv(const histogram& h);

} // namespace tokenrelay::loadgen
