#pragma once
// Debian's nginx in front of relays, as the scale-out tests run it.

#include "support/child_process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace tokenrelay::test {

/// Where scripts/install-deps puts nginx.
inline const std::filesystem::path nginx_bin = "/usr/sbin/nginx";

/// Starts nginx with `dir`/nginx.conf (its prefix and error log in `dir` too) as one
/// process, a child of the test, so nothing outlives a crashed test. Returns once `port`
/// answers GET /healthz with 200 through it; fails the test when nginx is missing, exits
/// or does not answer within `timeout` (scaled for the build).
std::unique_ptr<child_process> start_nginx(
    const std::filesystem::path& dir, std::uint16_t port, std::chrono::milliseconds timeout
);

} // namespace tokenrelay::test
