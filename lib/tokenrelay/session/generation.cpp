// The generation half of a session: the upstream stream and the pump that moves its
// events into the replay log, raced against an external stop (cancel, shutdown, the end
// of the resume window). Runs on the session's home loop.

#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/session/store_link.hpp>
#include <tokenrelay/upstream/stream_guarded.hpp>

#include <exception>
#include <vector>

namespace tokenrelay::session {
namespace {

using namespace net::experimental::awaitable_operators;

/// The log entry of a text event.
entry_kind entry_of(upstream::stream_event::kind k) noexcept
{
    switch (k) {
    case upstream::stream_event::kind::reasoning:
        return entry_kind::reasoning;
    case upstream::stream_event::kind::refusal:
        return entry_kind::refusal;
    default:
        return entry_kind::token;
    }
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
    wake_list readers;
    for (;;) {
        auto receive = with_op_memory(events.async_receive(deferred_tuple), home_);
        auto [ec, ev] = co_await std::move(receive);
        if (ec)
            co_return;
        std::optional<generation_end> ended;
        bool over_backlog = false;
        // Reused for every event: waking the connections allocates nothing per token.
        readers.clear();
        {
            std::lock_guard lock(mutex_);
            switch (ev.type) {
            case kind::token:
            case kind::reasoning:
            case kind::refusal: {
                reply_->accounting->on_delta(ev.text.size());
                // The answer, or the refusal in its place, joins the history: it is what
                // the model said. Reasoning is shown, not sent back.
                if (ev.type != kind::reasoning)
                    append_within(reply_->text, ev.text, settings_.history_max_bytes);
                const auto entry = entry_of(ev.type);
                log_.append_text(entry, message_id, ev.text);
                store_record_locked(entry, message_id);
                break;
            }
            case kind::chunk:
            case kind::usage_chunk:
                // Only forwarded HTTP requests get the upstream's chunks; a chat never is one.
                break;
            case kind::finished:
                ended = end_generation_locked(end_fields_locked(
                    reply_->accounting->on_finished(ev.end->finish_reason, ev.end->usage)
                ));
                break;
            case kind::failed: {
                const auto reason = reply_->accounting->on_failed(ev.end->code);
                log_.append_error(ev.end->code, ev.end->message, message_id);
                store_record_locked(entry_kind::error, message_id);
                ended = end_generation_locked(end_fields_locked(reason));
                break;
            }
            }
            if (!ended) {
                readers_locked(readers);
                // Section 5: past the backlog limit of every connection the upstream read
                // pauses until one catches up; a detached session keeps reading into its
                // bounded log, and so does one whose slower connections lag a faster one.
                over_backlog = all_behind_locked();
                pump_waiting_ = over_backlog;
            }
        }
        if (ended) {
            publish_end(*ended);
            co_return;
        }
        if (over_backlog)
            metrics::global().backpressure_pauses.fetch_add(1, std::memory_order_relaxed);
        // With a shared store the connections are woken when it has the frames.
        if (store_)
            flush_to_store();
        else
            wake_all(readers);
        while (over_backlog) {
            co_await pump_timer_.wait_until_cancelled(home_);
            const auto state = co_await net::this_coro::cancellation_state;
            if (is_cancelled(state))
                co_return;
            std::lock_guard lock(mutex_);
            over_backlog = all_behind_locked();
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

protocol::stream_end_fields session::end_fields_locked(std::string_view reason)
{
    auto& accounting = *reply_->accounting;
    protocol::stream_end_fields end;
    end.id = reply_->message_id;
    end.reason = std::string(reason);
    end.ttft_ms = accounting.ttft_ms();
    // Section 2: usage is given for every generation the upstream answered. Without a token
    // and without the upstream's own count, nothing shows that it did (a refused or
    // unreachable upstream), so there is nothing to report or charge.
    const auto& counted = accounting.settle_usage();
    if (!counted)
        return end;
    const auto& used = counted->usage;
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
    const auto now = reply_accounting::clock::now();
    end.total_ms = reply_->accounting->elapsed_ms(now);
    done.record.session = short_session_id(id_);
    done.record.id = reply_->message_id;
    done.record.model = reply_->model;
    done.record.reason = end.reason;
    reply_->accounting->fill(done.record, now);
    if (settings_.log_content) {
        done.record.content = std::move(reply_->user_content);
        done.record.reply = reply_->text;
    }
    reply_->user_content.clear();
    through_seq_ = log_.append_end(std::move(end));
    if (store_ && !store_->local_only) {
        store_record_locked(entry_kind::end, reply_->message_id);
        store_->ended_turns.clear();
        if (store_->turn_user)
            store_->ended_turns.push_back(std::move(*store_->turn_user));
        store_->turn_user.reset();
        if (!reply_->text.empty())
            store_->ended_turns.push_back({"assistant", reply_->text, reply_->message_id});
        store_->end_pending = true;
    }
    // Section 4: the reply joins the history, a cancelled one as far as it got.
    if (!reply_->text.empty())
        history_.add({"assistant", std::move(reply_->text)}, reply_->message_id);
    reply_->text.clear();
    running_ = false;
    slot_.reset();
    ticket_.reset();
    pump_waiting_ = false;
    readers_locked(done.readers);
    return done;
}

void session::publish_end(const generation_end& done)
{
    log_generation_end(done.record, settings_.prices, settings_.log_content);
    if (store_)
        flush_to_store(); // wakes the connections once the store has the end
    else
        wake_all(done.readers);
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
        done = end_generation_locked(
            end_fields_locked(stopped_reason(stopped.value_or(stop_reason::cancelled)))
        );
    }
    publish_end(done);
}

} // namespace tokenrelay::session
