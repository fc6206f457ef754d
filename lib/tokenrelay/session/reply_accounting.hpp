#pragma once
// The figures of one reply, whichever door it goes out of (a WebSocket chat or
// POST /v1/chat/completions, PROTOCOL.md section 1): time to first token, tokens and
// bytes relayed, the reply's usage and cost (section 2, stream_end.usage), its end reason
// (section 2's stream_end reasons) and the /metrics they feed. Sans-I/O: the door reports
// what it relayed, this keeps the count, so both doors count alike.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/core/error.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/session/generation_log.hpp>
#include <tokenrelay/session/usage.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::session {

/// Why a reply was stopped from outside.
enum class stop_reason { cancelled, shutdown, expired };

/// Section 2's end reason of a reply whose upstream finished: "length" when it stopped at
/// max_tokens; every other finish reason (e.g. "content_filter") is a normal "stop".
std::string_view finished_reason(std::string_view finish_reason) noexcept;
/// ... whose upstream failed: "timeout" for a silent upstream, else "upstream_error".
std::string_view failed_reason(errc code) noexcept;
/// ... stopped from outside: "shutdown" by the drain, else "cancelled" (a client's cancel,
/// a client gone, the resume window's end, room made for the client's newer reply).
std::string_view stopped_reason(stop_reason why) noexcept;

/// One reply's usage once counted.
struct counted_usage
{
    generation_usage usage;
    double cost_usd = 0; // 0 when no prices are configured
    std::string cost;    // format_cost_usd(cost_usd); empty when no prices are configured
};

/// Resolves a finished, failed or stopped reply's usage (the upstream's count, else the
/// relay's estimate) and adds it to `m`: prompt and completion tokens, estimated_usage,
/// and the cost at `prices`. nullopt, and nothing counted, when there is neither the
/// upstream's count nor a token event: then nothing shows that the upstream answered
/// (refused or unreachable), so there is nothing to report or charge.
std::optional<counted_usage> count_generation_usage(
    const std::optional<token_usage>& upstream,
    std::int64_t estimated_prompt_tokens,
    std::int64_t token_events,
    const usage_prices& prices,
    metrics::relay_metrics& m = metrics::global()
);

class reply_accounting
{
public:
    using clock = std::chrono::steady_clock;

    /// A reply starts at `started` with a prompt of about `prompt_estimate` tokens (used
    /// when the upstream gives no usage), priced at `prices`. Counted in `m`
    /// (generations_started).
    reply_accounting(
        std::int64_t prompt_estimate,
        usage_prices prices,
        clock::time_point started = clock::now(),
        metrics::relay_metrics& m = metrics::global()
    );

    /// A token or reasoning event of `bytes` bytes was relayed at `now`: the time to the
    /// first one or between two (the ttft and inter_token histograms), and the tokens and
    /// bytes relayed.
    void on_delta(std::size_t bytes, clock::time_point now = clock::now());
    /// A whole answer with `bytes` bytes of text arrived at `now`. No events tell its
    /// tokens, so it counts as many as the prompt's rule gives a text of that size (4
    /// bytes a token, at least one).
    void on_whole_reply(std::size_t bytes, clock::time_point now = clock::now());
    /// The upstream finished: its usage is counted now (the upstream's own count when it
    /// gave one). Returns the end reason.
    std::string_view
    on_finished(std::string_view finish_reason, const std::optional<token_usage>& upstream_usage);
    /// The upstream failed with `code`: counted among /metrics' errors, as an error the
    /// client is sent. Returns the end reason.
    std::string_view on_failed(errc code);

    /// The usage, counted the first time this is called (or on_finished is) and the same
    /// afterwards: a reply that ends without the upstream's usage (failed, stopped) is
    /// counted as far as it got.
    const std::optional<counted_usage>&
    settle_usage(const std::optional<token_usage>& upstream_usage = std::nullopt);
    const std::optional<counted_usage>& usage() const noexcept { return usage_; }

    /// -1 until the first token or reasoning event.
    std::int64_t ttft_ms() const noexcept { return ttft_ms_; }
    /// Token and reasoning events so far.
    std::int64_t token_events() const noexcept { return token_events_; }
    std::int64_t elapsed_ms(clock::time_point now = clock::now()) const noexcept;
    const usage_prices& prices() const noexcept { return prices_; }

    /// The figures of the operator's generation_end line: usage, ttft_ms, total_ms.
    void fill(generation_record& record, clock::time_point now = clock::now()) const;

private:
    metrics::relay_metrics* metrics_;
    usage_prices prices_;
    std::int64_t prompt_estimate_;
    clock::time_point started_;
    clock::time_point last_delta_at_;
    std::int64_t ttft_ms_ = -1;
    std::int64_t token_events_ = 0;
    bool usage_settled_ = false;
    std::optional<counted_usage> usage_;
};

} // namespace tokenrelay::session
