#include <charconv>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <testing/loadgen/proc_stat.hpp>
#include <unistd.h>

namespace tokenrelay::loadgen {
namespace {

std::optional<std::string> slurp(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
        return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::optional<std::uint64_t> parse_u64(std::string_view s)
{
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

} // namespace

std::optional<cpu_times> parse_stat_cpu(std::string_view stat, long ticks_per_second)
{
    const auto paren = stat.rfind(')');
    if (paren == std::string_view::npos || ticks_per_second <= 0)
        return std::nullopt;
    auto rest = stat.substr(paren + 1);
    // After ")" come field 3 (state), 4, ... ; utime is field 14, stime field 15.
    std::optional<std::uint64_t> utime;
    for (int field = 3; field <= 15; ++field) {
        while (!rest.empty() && rest.front() == ' ')
            rest.remove_prefix(1);
        const auto end = rest.find(' ');
        const auto word = rest.substr(0, end);
        if (word.empty())
            return std::nullopt;
        if (field == 14)
            utime = parse_u64(word);
        if (field == 15) {
            const auto stime = parse_u64(word);
            if (!utime || !stime)
                return std::nullopt;
            const auto ticks = static_cast<double>(ticks_per_second);
            return cpu_times{
                static_cast<double>(*utime) / ticks, static_cast<double>(*stime) / ticks};
        }
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_status_kib(std::string_view status, std::string_view key)
{
    std::size_t pos = 0;
    while (pos < status.size()) {
        const auto nl = status.find('\n', pos);
        auto line =
            status.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? status.size() : nl + 1;
        if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':')
            continue;
        line.remove_prefix(key.size() + 1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        const auto sp = line.find(' ');
        return parse_u64(line.substr(0, sp));
    }
    return std::nullopt;
}

proc_sample read_proc(int pid)
{
    proc_sample s;
    const auto dir = "/proc/" + std::to_string(pid);
    const auto stat = slurp(dir + "/stat");
    const auto status = slurp(dir + "/status");
    if (!stat || !status)
        return s;
    const auto cpu = parse_stat_cpu(*stat, ::sysconf(_SC_CLK_TCK));
    const auto rss = parse_status_kib(*status, "VmRSS");
    const auto hwm = parse_status_kib(*status, "VmHWM");
    if (!cpu || !rss)
        return s;
    s.ok = true;
    s.cpu = *cpu;
    s.rss_kib = *rss;
    s.hwm_kib = hwm.value_or(*rss);
    return s;
}

proc_sample read_procs(std::span<const int> pids)
{
    proc_sample total;
    total.ok = !pids.empty();
    for (const int pid : pids) {
        const auto s = read_proc(pid);
        total.ok = total.ok && s.ok;
        total.cpu.user_s += s.cpu.user_s;
        total.cpu.system_s += s.cpu.system_s;
        total.rss_kib += s.rss_kib;
        total.hwm_kib += s.hwm_kib;
    }
    return total;
}

double own_cpu_seconds()
{
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto tv = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

} // namespace tokenrelay::loadgen
