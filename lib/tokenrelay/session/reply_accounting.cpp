#include <tokenrelay/session/reply_accounting.hpp>

#include <algorithm>
#include <utility>

namespace tokenrelay::session {

std::string_view finished_reason(std::string_view finish_reason) noexcept
{
    if (finish_reason == "length")
        return "length";
    // The model asked for tools: without saying so the reply would look like an empty stop.
    if (finish_reason == "tool_calls" || finish_reason == "function_call")
        return "tool_calls";
    if (finish_reason == "content_filter")
        return "content_filter";
    return "stop";
}

std::string_view failed_reason(errc code) noexcept
{
    return code == errc::timeout ? "timeout" : "upstream_error";
}

std::string_view stopped_reason(stop_reason why) noexcept
{
    return why == stop_reason::shutdown ? "shutdown" : "cancelled";
}

std::optional<counted_usage> count_generation_usage(
    const std::optional<token_usage>& upstream,
    std::int64_t estimated_prompt_tokens,
    std::int64_t token_events,
    const usage_prices& prices,
    metrics::relay_metrics& m
)
{
    if (!upstream && token_events == 0)
        return std::nullopt;
    counted_usage out;
    out.usage = resolve_usage(upstream, estimated_prompt_tokens, token_events);
    m.prompt_tokens.fetch_add(
        static_cast<std::uint64_t>(out.usage.tokens.prompt_tokens), std::memory_order_relaxed
    );
    m.completion_tokens.fetch_add(
        static_cast<std::uint64_t>(out.usage.tokens.completion_tokens), std::memory_order_relaxed
    );
    if (out.usage.estimated)
        m.estimated_usage.fetch_add(1, std::memory_order_relaxed);
    if (prices.priced()) {
        out.cost_usd = cost_usd(out.usage.tokens, prices);
        out.cost = format_cost_usd(out.cost_usd);
        m.add_cost_usd(to_micro_usd(out.cost_usd));
    }
    return out;
}

reply_accounting::reply_accounting(
    std::int64_t prompt_estimate,
    usage_prices prices,
    clock::time_point started,
    metrics::relay_metrics& m
)
    : metrics_(&m), prices_(prices), prompt_estimate_(prompt_estimate), started_(started),
      last_delta_at_(started)
{
    m.generations_started.fetch_add(1, std::memory_order_relaxed);
}

void reply_accounting::on_delta(std::size_t bytes, clock::time_point now)
{
    auto& m = *metrics_;
    if (ttft_ms_ < 0) {
        ttft_ms_ = elapsed_ms(now);
        m.ttft.observe(static_cast<double>(ttft_ms_));
    } else {
        m.inter_token.observe(
            std::chrono::duration<double, std::milli>(now - last_delta_at_).count()
        );
    }
    last_delta_at_ = now;
    ++token_events_;
    m.tokens_relayed.fetch_add(1, std::memory_order_relaxed);
    m.token_bytes_relayed.fetch_add(bytes, std::memory_order_relaxed);
}

void reply_accounting::on_whole_reply(std::size_t bytes, clock::time_point now)
{
    on_delta(bytes, now);
    const auto tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>(bytes / 4));
    token_events_ += tokens - 1;
    metrics_->tokens_relayed.fetch_add(tokens - 1, std::memory_order_relaxed);
}

std::string_view reply_accounting::on_finished(
    std::string_view finish_reason, const std::optional<token_usage>& upstream_usage
)
{
    settle_usage(upstream_usage);
    return finished_reason(finish_reason);
}

std::string_view reply_accounting::on_failed(errc code)
{
    metrics_->count_error(code);
    return failed_reason(code);
}

const std::optional<counted_usage>&
reply_accounting::settle_usage(const std::optional<token_usage>& upstream_usage)
{
    if (!std::exchange(usage_settled_, true)) {
        usage_ = count_generation_usage(
            upstream_usage, prompt_estimate_, token_events_, prices_, *metrics_
        );
    }
    return usage_;
}

std::int64_t reply_accounting::elapsed_ms(clock::time_point now) const noexcept
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
}

void reply_accounting::fill(generation_record& record, clock::time_point now) const
{
    if (usage_)
        record.usage = usage_->usage;
    record.ttft_ms = ttft_ms_;
    record.total_ms = elapsed_ms(now);
}

} // namespace tokenrelay::session
