#pragma once

#include <chrono>
#include <cstdint>

namespace tokenrelay {

/// Wall-clock milliseconds since the Unix epoch, as PROTOCOL.md's `timestamp` fields use.
inline std::int64_t now_ms() noexcept
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace tokenrelay
