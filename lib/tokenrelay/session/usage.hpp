#pragma once
// Token usage and cost of one generation (PROTOCOL.md section 2, stream_end.usage).
// Sans-I/O: the session feeds in what it saw, these helpers decide what is reported.

#include <tokenrelay/core/chat.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::session {

/// USD per million tokens; 0 for both means costs are not shown.
struct usage_prices
{
    double input_per_million = 0;
    double output_per_million = 0;

    bool priced() const noexcept { return input_per_million > 0 || output_per_million > 0; }
};

struct generation_usage
{
    token_usage tokens;
    bool estimated = false; // counted by the relay: the upstream sent no usage
};

/// The prompt's size when the upstream does not say: characters (code points) of every
/// message's content / 4, at least 1 — the usual rule of thumb for English text, and the
/// rule the mock upstream uses, so estimates and reports agree in tests.
std::int64_t estimate_prompt_tokens(const std::vector<chat_turn>& messages);

/// The upstream's usage when it gave one; otherwise the estimate from the prompt and the
/// number of token events (content and reasoning) received.
generation_usage resolve_usage(
    const std::optional<token_usage>& upstream,
    std::int64_t estimated_prompt_tokens,
    std::int64_t token_events
);

/// tokens × price / 1e6 for each side, summed.
double cost_usd(const token_usage& tokens, const usage_prices& prices);

/// A cost as a plain JSON number in fixed notation, at most 12 decimals, trailing zeros
/// dropped ("0.000019", "1.5", "0"): readable in logs and free of the binary noise
/// (1.9000000000000001e-05) shortest round-trip formatting would show.
std::string format_cost_usd(double usd);

/// Whole micro-dollars, for the process-wide counter (an atomic integer, not a double).
std::uint64_t to_micro_usd(double usd) noexcept;

} // namespace tokenrelay::session
