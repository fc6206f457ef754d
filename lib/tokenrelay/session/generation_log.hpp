#pragma once
// The accounting every generation shares, whichever door it came through (a WebSocket
// chat or POST /v1/chat/completions, PROTOCOL.md section 1): its usage resolved and
// counted in /metrics (section 2, stream_end.usage), and the operator's generation_end
// log line.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/session/usage.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::session {

/// One generation's usage once counted.
struct counted_usage
{
    generation_usage usage;
    double cost_usd = 0; // 0 when no prices are configured
    std::string cost;    // format_cost_usd(cost_usd); empty when no prices are configured
};

/// Resolves a finished, failed or stopped generation's usage (the upstream's count, else
/// the relay's estimate) and adds it to metrics::global(): prompt and completion tokens,
/// estimated_usage, and the cost at `prices`. Call once per generation. nullopt, and
/// nothing counted, when there is neither the upstream's count nor a token event: then
/// nothing shows that the upstream answered (refused or unreachable), so there is nothing
/// to report or charge.
std::optional<counted_usage> count_generation_usage(
    const std::optional<token_usage>& upstream,
    std::int64_t estimated_prompt_tokens,
    std::int64_t token_events,
    const usage_prices& prices
);

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
