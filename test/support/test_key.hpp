#pragma once

#include <string_view>

namespace tokenrelay::test {

/// The upstream key the relay fixture gives the relay. PROTOCOL.md section 1: it must never
/// reach a client frame or a log line, so the WebSocket client and the fixture look for it.
inline constexpr std::string_view test_api_key = "sk-test-SECRET-key-12345";

} // namespace tokenrelay::test
