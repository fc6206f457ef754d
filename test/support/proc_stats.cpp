#include "support/proc_stats.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tokenrelay::test {

std::size_t resident_bytes(pid_t pid)
{
    const auto path = "/proc/" + std::to_string(pid) + "/status";
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        // "VmRSS:	   12345 kB" (proc(5)).
        if (!line.starts_with("VmRSS:"))
            continue;
        std::size_t kib = 0;
        for (const char c : line.substr(6)) {
            if (c >= '0' && c <= '9')
                kib = kib * 10 + static_cast<std::size_t>(c - '0');
        }
        return kib * 1024;
    }
    throw std::runtime_error("no VmRSS in " + path);
}

std::size_t open_fd_count(pid_t pid)
{
    const auto path = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
        ++n;
    if (ec)
        throw std::system_error(ec, "reading " + path);
    return n;
}

} // namespace tokenrelay::test
