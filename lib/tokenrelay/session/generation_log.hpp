#pragma once
// The operator's generation_end log line, one for every reply whichever door it came
// through (a WebSocket chat or POST /v1/chat/completions, PROTOCOL.md section 1).

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/session/usage.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::session {

/// What the operator's generation_end log line records.
struct generation_record
{
    std::string session; // already shortened (section 3: ids are secrets); empty: no session
    std::string id;
    std::string model;
    std::string reason;
    std::optional<generation_usage> usage;
    std::int64_t ttft_ms = -1;
    std::int64_t total_ms = 0;
    std::string content; // empty unless --log-content
    std::string reply;
    /// Door-specific fields, after the common ones (keys must outlive the call).
    std::vector<log::field> details{};
};

/// One line per generation, the operator's record of usage and cost. The message and the
/// reply are user data and appear only when the operator asked for them (--log-content).
void log_generation_end(const generation_record& r, const usage_prices& prices, bool log_content);

} // namespace tokenrelay::session
