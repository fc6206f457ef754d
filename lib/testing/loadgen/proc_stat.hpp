#pragma once
// CPU time and memory of a process, from Linux's /proc/<pid>/stat and /proc/<pid>/status
// (proc(5)). The parsers are separate from the file reads so they can be tested.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tokenrelay::loadgen {

/// CPU time in user space and in the kernel on the process's behalf.
struct cpu_times
{
    double user_s = 0;
    double system_s = 0;

    double total_s() const noexcept { return user_s + system_s; }
};

struct proc_sample
{
    bool ok = false;
    cpu_times cpu;
    std::uint64_t rss_kib = 0; // VmRSS
    std::uint64_t hwm_kib = 0; // VmHWM: the peak resident set since the process started
};

/// utime and stime (fields 14 and 15) in seconds; the command name in field 2 may hold
/// spaces and parentheses, so fields are counted after its last ')'.
std::optional<cpu_times> parse_stat_cpu(std::string_view stat, long ticks_per_second);

/// The value in kB of a `Key:   123 kB` line of /proc/<pid>/status.
std::optional<std::uint64_t> parse_status_kib(std::string_view status, std::string_view key);

/// One process; `ok` false when it is gone or unreadable.
proc_sample read_proc(int pid);

/// The sum over `pids` (a server and its worker processes); `ok` only when all were read.
proc_sample read_procs(std::span<const int> pids);

/// This process's own CPU time (getrusage).
double own_cpu_seconds();

} // namespace tokenrelay::loadgen
