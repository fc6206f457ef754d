#pragma once
// Runs one load (options.hpp): opens the sessions at the ramp rate over worker threads,
// coordinates the patterns' shared phases, samples the relay's /proc figures, and merges
// what every thread measured.

#include <testing/loadgen/options.hpp>
#include <testing/loadgen/report.hpp>

namespace tokenrelay::loadgen {

/// Throws std::runtime_error when --url is unusable (bad form, wrong scheme, no address).
run_report run_load(const options& opts);

} // namespace tokenrelay::loadgen
