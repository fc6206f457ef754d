#pragma once
// Waiting for a state that can only be observed by looking (a /proc count, a gauge in
// /metrics), not for an event the test could await.

#include <chrono>
#include <functional>

namespace tokenrelay::test {

/// Polls `done` every 20 ms until it holds (true) or `timeout`, scaled for the build
/// (time_scale.hpp), passes (false).
bool eventually(const std::function<bool()>& done, std::chrono::steady_clock::duration timeout);

} // namespace tokenrelay::test
