// The generation half of a session: the upstream stream and the pump that moves its
// events into the replay log, raced against an external stop (cancel, shutdown, the end
// of the resume window). Runs on the session's home loop.

#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/session/generation_log.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/upstream/stream_guarded.hpp>

#include <exception>
#include <vector>

namespace tokenrelay::session {
namespace {

using namespace net::experimental::awaitable_operators;

// Section 2 lists the reasons a client may see; finish reasons other than "length"
// (e.g. "content_filter") are a normal stop.
std::string_view end_reason_for(std::string_view finish_reason)
{
    return finish_reason == "length" ? "length" : "stop";
}

std::string_view end_reason_for(stop_reason why)
{
    return why == stop_reason::shutdown ? "shutdown" : "cancelled";
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - since
    )
        .count();
}

} // namespace

awaitable<void>
session::run_generation(chat_request request, std::string message_id, std::uint64_t generation)
{
    upstream::event_channel events(home_, 16);
    // Named, not a temporary in the co_await: GCC 12 mishandles those.
    auto log_id = short_session_id(id_);
    auto outcome = co_await (
        (upstream::stream_guarded(source_, std::move(request), events, std::move(log_id)) &&
         pump(events, message_id)) ||
        wait_for_stop()
    );
    std::optional<stop_reason> stopped;
    if (outcome.index() == 1) {
        std::lock_guard lock(mutex_);
        stopped = stop_reason_.value_or(stop_reason::cancelled);
    }
    finish_generation(generation, stopped);
}

awaitable<void> session::pump(upstream::event_channel& events, std::string message_id)
{
    using kind = upstream::stream_event::kind;
    for (;;) {
        auto receive = with_op_memory(events.async_receive(deferred_tuple), home_);
        auto [ec, ev] = co_await std::move(receive);
        if (ec)
            co_return;
        std::optional<generation_end> ended;
        bool over_backlog = false;
        std::shared_ptr<subscriber> sub;
        {
            std::lock_guard lock(mutex_);
            switch (ev.type) {
            case kind::token:
            case kind::reasoning: {
                const auto now = std::chrono::steady_clock::now();
                auto& m = metrics::global();
                if (reply_->ttft_ms < 0) {
                    const auto total = elapsed_ms(reply_->started_at);
                    reply_->ttft_ms = total;
                    m.ttft.observe(static_cast<double>(total));
                } else {
                    m.inter_token.observe(
                        std::chrono::duration<double, std::milli>(now - reply_->last_token_at)
                            .count()
                    );
                }
                reply_->last_token_at = now;
                ++reply_->token_events;
                m.tokens_relayed.fetch_add(1, std::memory_order_relaxed);
                m.token_bytes_relayed.fetch_add(ev.text.size(), std::memory_order_relaxed);
                if (ev.type == kind::token)
                    append_within(reply_->text, ev.text, settings_.history_max_bytes);
                log_.append_text(
                    ev.type == kind::token ? entry_kind::token : entry_kind::reasoning,
                    message_id,
                    ev.text
                );
                break;
            }
            case kind::finished:
                ended = end_generation_locked(end_fields_locked(
                    std::string(end_reason_for(ev.end->finish_reason)), ev.end->usage
                ));
                break;
            case kind::failed:
                metrics::global().count_error(ev.end->code);
                log_.append_error(ev.end->code, ev.end->message, message_id);
                ended = end_generation_locked(end_fields_locked(
                    ev.end->code == errc::timeout ? "timeout" : "upstream_error", std::nullopt
                ));
                break;
            }
            if (!ended) {
                sub = attached_;
                // Section 5: past the backlog limit the upstream read pauses until the
                // client catches up; a detached session keeps reading into its bounded log.
                over_backlog = sub && log_.bytes_after(cursor_) > settings_.backlog_bytes;
                pump_waiting_ = over_backlog;
            }
        }
        if (ended) {
            publish_end(*ended);
            co_return;
        }
        if (over_backlog)
            metrics::global().backpressure_pauses.fetch_add(1, std::memory_order_relaxed);
        if (sub)
            sub->wake();
        while (over_backlog) {
            co_await pump_timer_.wait_until_cancelled(home_);
            const auto state = co_await net::this_coro::cancellation_state;
            if (is_cancelled(state))
                co_return;
            std::lock_guard lock(mutex_);
            over_backlog = attached_ && log_.bytes_after(cursor_) > settings_.backlog_bytes;
            pump_waiting_ = over_backlog;
        }
    }
}

awaitable<void> session::wait_for_stop()
{
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stop_reason_)
                co_return;
        }
        co_await stop_timer_.wait_until_cancelled(home_);
        const auto state = co_await net::this_coro::cancellation_state;
        if (is_cancelled(state))
            co_return;
    }
}

protocol::stream_end_fields
session::end_fields_locked(std::string reason, const std::optional<token_usage>& upstream_usage)
{
    protocol::stream_end_fields end;
    end.id = reply_->message_id;
    end.reason = std::move(reason);
    end.ttft_ms = reply_->ttft_ms;
    // Section 2: usage is given for every generation the upstream answered. Without a token
    // and without the upstream's own count, nothing shows that it did (a refused or
    // unreachable upstream), so there is nothing to report or charge.
    const auto counted = count_generation_usage(
        upstream_usage, reply_->prompt_estimate, reply_->token_events, settings_.prices
    );
    if (!counted)
        return end;
    const auto& used = counted->usage;
    reply_->usage = used;
    totals_.prompt_tokens += used.tokens.prompt_tokens;
    totals_.completion_tokens += used.tokens.completion_tokens;
    totals_.cost_usd += counted->cost_usd;
    end.cost_usd = counted->cost;
    end.usage = used.tokens;
    end.usage_estimated = used.estimated;
    return end;
}

session::generation_end session::end_generation_locked(protocol::stream_end_fields end)
{
    // One critical section logs the stream_end, adds the reply to the history and frees
    // the session: a client that answers stream_end at once is never refused as busy, and
    // its next message's context already holds this reply.
    generation_end done;
    end.total_ms = elapsed_ms(reply_->started_at);
    done.record = {
        short_session_id(id_),
        reply_->message_id,
        reply_->model,
        end.reason,
        reply_->usage,
        reply_->ttft_ms,
        end.total_ms,
        {},
        {}};
    if (settings_.log_content) {
        done.record.content = std::move(reply_->user_content);
        done.record.reply = reply_->text;
    }
    reply_->user_content.clear();
    log_.append_end(std::move(end));
    // Section 4: the reply joins the history, a cancelled one as far as it got.
    if (!reply_->text.empty())
        history_.add({"assistant", std::move(reply_->text)});
    reply_->text.clear();
    running_ = false;
    slot_.reset();
    ticket_.reset();
    pump_waiting_ = false;
    done.writer = attached_;
    return done;
}

void session::publish_end(const generation_end& done)
{
    log_generation_end(done.record, settings_.prices, settings_.log_content);
    if (done.writer)
        done.writer->wake();
    if (settings_.drain)
        settings_.drain->notify();
}

void session::finish_generation(std::uint64_t generation, std::optional<stop_reason> stopped)
{
    generation_end done;
    {
        std::lock_guard lock(mutex_);
        // The pump may have ended this generation already, and a newer one may be running.
        if (generation != generation_ || !running_)
            return;
        done = end_generation_locked(end_fields_locked(
            std::string(end_reason_for(stopped.value_or(stop_reason::cancelled))), std::nullopt
        ));
    }
    publish_end(done);
}

} // namespace tokenrelay::session
