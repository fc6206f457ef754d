#pragma once
// The whole relay process: event loops, model sources, the listeners, and the drain on
// SIGTERM/SIGINT (PROTOCOL.md section 2).

#include <tokenrelay/config/config.hpp>

#include <string>

namespace tokenrelay::server {

/// Runs the relay until it has drained after a signal. Prints the listening line on
/// stdout once the port accepts. Returns the process exit code; throws
/// std::runtime_error with a one-line message for start-up failures.
int run_relay(config::relay_config cfg);

/// The static directory to serve when --static is not given: the one installed next to
/// the binary, else the source tree's.
std::string default_static_dir();

} // namespace tokenrelay::server
