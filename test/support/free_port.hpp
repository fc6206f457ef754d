#pragma once

#include <cstdint>

namespace tokenrelay::test {

/// A loopback port the kernel had free a moment ago, for programs that cannot be told to
/// pick one and report it (redis-server, nginx) or must come back on a port already known
/// (a restarted relay). Another process may take it meanwhile: callers that can, retry.
std::uint16_t free_loopback_port();

} // namespace tokenrelay::test
