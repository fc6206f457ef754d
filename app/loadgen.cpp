// loadgen: opens many WebSocket (or SSE) sessions against the relay and reports latency,
// throughput, errors and the relay's CPU and memory. Used by scripts/bench and the smoke
// test; `loadgen --help` lists the flags.

#include <cstdio>
#include <exception>
#include <fstream>
#include <string_view>
#include <testing/loadgen/options.hpp>
#include <testing/loadgen/runner.hpp>
#include <vector>

namespace {

bool write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
}

} // namespace

int main(int argc, char** argv)
{
    namespace loadgen = tokenrelay::loadgen;

    const std::vector<std::string_view> args(argv + 1, argv + argc);
    const auto parsed = loadgen::parse_options(args);
    if (parsed.help) {
        std::fputs(loadgen::usage().data(), stdout);
        return 0;
    }
    if (!parsed.value) {
        std::fprintf(stderr, "loadgen: %s\n", parsed.error.c_str());
        return 2;
    }
    const auto& opts = *parsed.value;

    loadgen::run_report report;
    try {
        report = loadgen::run_load(opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: %s\n", e.what());
        return 2;
    }

    if (!opts.quiet)
        std::fputs(loadgen::to_table(report).c_str(), stdout);
    if (!opts.json_path.empty() && !write_file(opts.json_path, loadgen::to_json(report) + "\n")) {
        std::fprintf(stderr, "loadgen: cannot write %s\n", opts.json_path.c_str());
        return 1;
    }
    if (!opts.latency_csv_path.empty() &&
        !write_file(opts.latency_csv_path, loadgen::latency_csv(report.m.token_latency_us))) {
        std::fprintf(stderr, "loadgen: cannot write %s\n", opts.latency_csv_path.c_str());
        return 1;
    }
    return 0;
}
