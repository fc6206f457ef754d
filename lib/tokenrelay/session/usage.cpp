#include <tokenrelay/session/usage.hpp>

#include <charconv>
#include <cmath>

namespace tokenrelay::session {
namespace {

std::int64_t code_points(const std::string& s)
{
    std::int64_t n = 0;
    for (const char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
            ++n;
    return n;
}

} // namespace

std::int64_t estimate_prompt_tokens(const std::vector<chat_turn>& messages)
{
    std::int64_t chars = 0;
    for (const auto& m : messages)
        chars += code_points(m.content);
    const auto tokens = chars / 4;
    return tokens == 0 ? 1 : tokens;
}

generation_usage resolve_usage(
    const std::optional<token_usage>& upstream,
    std::int64_t estimated_prompt_tokens,
    std::int64_t token_events
)
{
    if (upstream)
        return {*upstream, false};
    return {{estimated_prompt_tokens, token_events}, true};
}

double cost_usd(const token_usage& tokens, const usage_prices& prices)
{
    return (static_cast<double>(tokens.prompt_tokens) * prices.input_per_million +
            static_cast<double>(tokens.completion_tokens) * prices.output_per_million) /
           1e6;
}

std::string format_cost_usd(double usd)
{
    if (!std::isfinite(usd) || usd <= 0)
        return "0";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, usd, std::chars_format::fixed, 12);
    if (r.ec != std::errc{})
        return "0";
    std::string out(buf, r.ptr);
    while (out.back() == '0')
        out.pop_back();
    if (out.back() == '.')
        out.pop_back();
    return out;
}

std::uint64_t to_micro_usd(double usd) noexcept
{
    if (!std::isfinite(usd) || usd <= 0)
        return 0;
    return static_cast<std::uint64_t>(std::llround(usd * 1e6));
}

} // namespace tokenrelay::session
