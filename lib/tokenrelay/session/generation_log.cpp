#include <tokenrelay/session/generation_log.hpp>

namespace tokenrelay::session {

void log_generation_end(const generation_record& r, const usage_prices& prices, bool log_content)
{
    if (!log::enabled(log::level::info))
        return;
    const auto tokens = r.usage ? r.usage->tokens : token_usage{};
    const std::string usage_source = !r.usage             ? "none"
                                     : r.usage->estimated ? "estimated"
                                                          : "upstream";
    const bool priced = prices.priced() && r.usage;
    std::vector<log::field> fields;
    fields.reserve(12 + r.details.size());
    if (!r.session.empty())
        fields.push_back({"session", r.session});
    fields.push_back({"id", r.id});
    fields.push_back({"model", r.model});
    fields.push_back({"reason", r.reason});
    fields.push_back({"prompt_tokens", std::to_string(tokens.prompt_tokens)});
    fields.push_back({"completion_tokens", std::to_string(tokens.completion_tokens)});
    fields.push_back({"usage", usage_source});
    if (priced)
        fields.push_back({"cost_usd", format_cost_usd(cost_usd(tokens, prices))});
    fields.push_back({"ttft_ms", std::to_string(r.ttft_ms)});
    fields.push_back({"total_ms", std::to_string(r.total_ms)});
    fields.insert(fields.end(), r.details.begin(), r.details.end());
    if (log_content) {
        fields.push_back({"content", r.content});
        fields.push_back({"reply", r.reply});
    }
    log::write(log::level::info, "generation_end", fields);
}

} // namespace tokenrelay::session
