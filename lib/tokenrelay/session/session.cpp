#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/session/registry.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/session/store_link.hpp>
#include <tokenrelay/store/shared_store.hpp>

#include <algorithm>
#include <exception>

namespace tokenrelay::session {
namespace {

constexpr auto busy_message = "a reply is still streaming in this session; cancel it or wait";

} // namespace

session::session(
    std::string id,
    loop_executor home,
    upstream::model_source& source,
    const session_settings& settings,
    registry& owner,
    std::string client
)
    : id_(std::move(id)), client_(std::move(client)), home_(std::move(home)), source_(source),
      settings_(settings), owner_(owner), log_(settings.replay_log_bytes),
      history_(
          settings.history_max_turns, settings.history_max_bytes, settings.history_max_image_bytes
      ),
      limiter_(settings.rate_limit)
{}

session::~session()
{
    if (remote_running_) // the gauge of followed replies counts only live sessions
        metrics::global().store_following.fetch_sub(1, std::memory_order_relaxed);
}

session::attach_result
session::attach(std::shared_ptr<subscriber> s, std::optional<std::uint64_t> last_seq)
{
    std::shared_ptr<subscriber> evicted;
    attach_result result;
    {
        std::lock_guard lock(mutex_);
        ++attach_epoch_;
        // A fresh connection starts at the end; a resuming one right after what it has,
        // or at the oldest frame the log still holds (section 3: the relay replays from
        // first_seq). From then on a cursor the log drops is a connection too slow.
        // With a shared store, only what it holds exists for a connection; a client that
        // holds more got it from another instance, so the store has that too.
        const auto last =
            std::min(log_.last_seq(), std::max(deliverable_locked(), last_seq.value_or(0)));
        auto cursor = std::min(last_seq.value_or(last), last);
        if (log_.first_seq() > 0)
            cursor = std::max(cursor, log_.first_seq() - 1);
        if (auto* again = attached_.find(s.get()))
            again->cursor = cursor; // a `resume` of the session it already has
        else
            evicted = attached_.add({s, cursor}, settings_.max_connections);
        result = {log_.first_seq(), last, attached_.size()};
    }
    owner_.clients.session_attached(this);
    if (evicted && evicted != s) {
        owner_.counters.taken_over.fetch_add(1, std::memory_order_relaxed);
        evicted->evicted(eviction::taken_over);
    }
    net::post(home_, [self = shared_from_this()] {
        self->expiry_timer_.cancel();
        if (self->store_ && self->store_->joined)
            self->store_->loop.keep_alive(self->store_->keys);
    });
    s->wake();
    return result;
}

void session::detach(const subscriber* s)
{
    bool was_last = false;
    bool wake_pump = false;
    {
        std::lock_guard lock(mutex_);
        if (!attached_.remove(s))
            return;
        was_last = attached_.empty();
        wake_pump = std::exchange(pump_waiting_, false);
    }
    after_leaving(was_last, wake_pump);
}

void session::after_leaving(bool was_last, bool wake_pump)
{
    if (!was_last) {
        // The pump looks again: the connections left may be within the backlog limit.
        if (wake_pump)
            net::post(home_, [self = shared_from_this()] { self->pump_timer_.cancel(); });
        return;
    }
    std::uint64_t epoch = 0;
    {
        std::lock_guard lock(mutex_);
        if (!attached_.empty())
            return; // one attached meanwhile
        epoch = ++attach_epoch_;
    }
    // Past the bound on detached sessions of all clients, the oldest of them ends.
    if (auto victim = owner_.clients.session_detached(shared_from_this()))
        owner_.end(std::static_pointer_cast<session>(victim));
    net::post(home_, [self = shared_from_this(), epoch, wake_pump] {
        if (wake_pump)
            self->pump_timer_.cancel();
        if (self->store_ && self->store_->joined) {
            // The keys live for the resume window from now, unless another instance
            // keeps them (it has connections too).
            self->store_->loop.stop_keeping_alive(self->store_->keys.meta);
            store::redis_request touch;
            store::push_touch(touch, self->store_->keys, self->settings_.resume_window);
            self->store_->loop.commands().async_exec(std::move(touch), store::ignore_reply);
        }
        net::co_spawn(
            self->home_,
            [self, epoch] { return self->expire_after_window(epoch); },
            [id = short_session_id(self->id_)](std::exception_ptr e) {
                if (e)
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                        log::error("session_expiry_failed", {{"session", id}, {"what", x.what()}});
                    }
            }
        );
    });
}

awaitable<void> session::expire_after_window(std::uint64_t epoch)
{
    // Re-arming cancels an older wait, whose epoch check then fails (section 3: the
    // window runs from the last detach).
    auto& expiry = expiry_timer_.get(home_);
    expiry.expires_after(settings_.resume_window);
    co_await expiry.async_wait(use_tuple);
    {
        std::lock_guard lock(mutex_);
        if (attach_epoch_ != epoch || !attached_.empty())
            co_return;
    }
    stop(stop_reason::expired);
    owner_.forget(*this);
    leave_store();
    owner_.counters.expired.fetch_add(1, std::memory_order_relaxed);
    log::debug("session_expired", {{"session", short_session_id(id_)}});
}

session::chat_outcome
session::refuse(errc code, std::string message, std::int64_t retry_after_ms, std::string id)
{
    chat_outcome outcome;
    outcome.refused = code;
    outcome.message = std::move(message);
    outcome.retry_after_ms = retry_after_ms;
    outcome.id = std::move(id);
    return outcome;
}

void session::end_now()
{
    {
        std::lock_guard lock(mutex_);
        // The resume window's pending wait then finds a newer epoch and leaves it be.
        ++attach_epoch_;
    }
    stop(stop_reason::expired);
    net::post(home_, [self = shared_from_this()] {
        self->expiry_timer_.cancel();
        self->leave_store();
    });
}

session::chat_outcome session::start_chat(protocol::chat_frame chat, std::weak_ptr<subscriber> from)
{
    if (auto refused = check_chat(chat.id))
        return std::move(*refused);
    // Section 7: the client's rate and running replies, which a new session does not
    // reset; past its bound of replies, its oldest one in a detached session is cancelled
    // to make room (never another client's). Section 2: a free upstream request, taken
    // before this session's rate limiter and given back if it refuses, so neither refusal
    // uses up the other's allowance.
    auto admitted = owner_.admit_reply(client_, this, settings_.upstream_slots);
    if (!admitted) {
        return refuse(
            *admitted.refused, std::move(admitted.message), admitted.retry_after_ms, chat.id
        );
    }
    chat_outcome outcome;
    chat_request request;
    std::uint64_t generation = 0;
    wake_list readers;
    {
        std::lock_guard lock(mutex_);
        if (running_) {
            admitted.ticket.give_back();
            return refuse(errc::busy, busy_message, 0, chat.id);
        }
        if (auto wait = limiter_.try_take(now_ms())) {
            admitted.ticket.give_back();
            return refuse(
                errc::rate_limited,
                "too many messages in this session; try again later",
                *wait,
                chat.id
            );
        }
        outcome.id =
            chat.id.empty() ? "m" + std::to_string(next_message_number_++) : std::move(chat.id);
        generation = ++generation_;
        slot_ = std::move(admitted.slot);
        ticket_ = std::move(admitted.ticket);
        if (store_) {
            // Held while the store's lease is taken on the home loop; the generation
            // begins there (stored_session.cpp).
            running_ = true;
            stop_reason_.reset();
        } else {
            request = begin_generation_locked(std::move(chat), outcome.id);
            readers_locked(readers);
        }
    }
    if (store_) {
        net::co_spawn(
            home_,
            begin_with_store(std::move(chat), outcome.id, generation, std::move(from)),
            log::task_failure{"store chat start"}
        );
        return outcome;
    }
    spawn_generation(std::move(request), outcome.id, generation);
    // Every connection shows the question (section 2, the `user` frame).
    wake_all(readers);
    return outcome;
}

std::optional<session::chat_outcome> session::check_chat(const std::string& chat_id)
{
    std::lock_guard lock(mutex_);
    if (running_ || remote_running_)
        return refuse(errc::busy, busy_message, 0, chat_id);
    // Checked before the rate limiters so a refused chat does not use up a message slot.
    // A session's totals never shrink; the wait offered is the resume window, after which
    // a detached session is forgotten (section 3).
    if (settings_.token_budget > 0 &&
        static_cast<std::uint64_t>(totals_.prompt_tokens + totals_.completion_tokens) >=
            settings_.token_budget) {
        return refuse(
            errc::rate_limited,
            "this session's token budget is spent; start a new session",
            settings_.resume_window.count() > 0 ? settings_.resume_window.count() : 60000,
            chat_id
        );
    }
    return std::nullopt;
}

chat_request session::begin_generation_locked(protocol::chat_frame chat, const std::string& id)
{
    chat_request request;
    // Section 4: an explicit context is used as given; otherwise the history.
    request.messages = chat.context ? std::move(*chat.context) : history_.turns();
    request.messages.push_back({"user", chat.content, chat.parts});
    request.model = chat.options.model.value_or(settings_.model);
    request.temperature = chat.options.temperature;
    request.max_tokens = chat.options.max_tokens;
    if (!reply_)
        reply_ = std::make_unique<reply_state>();
    reply_->model = request.model;
    reply_->user_content = settings_.log_content ? chat.content : std::string{};
    log_.begin_message(id);
    log_.append_user(id, request.messages.back());
    store_record_locked(chat.parts.empty() ? entry_kind::user : entry_kind::user_parts, id);
    history_.add({"user", std::move(chat.content), std::move(chat.parts)}, id);
    reply_->message_id = id;
    running_ = true;
    stop_reason_.reset();
    reply_->text.clear();
    reply_->accounting.emplace(estimate_prompt_tokens(request.messages), settings_.prices);
    return request;
}

void session::spawn_generation(chat_request request, std::string id, std::uint64_t generation)
{
    net::co_spawn(
        home_,
        [self = shared_from_this(), request = std::move(request), id = std::move(id), generation](
        ) mutable { return self->run_generation(std::move(request), std::move(id), generation); },
        [self = shared_from_this(), generation](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                log::error(
                    "generation_failed",
                    {{"session", short_session_id(self->id_)}, {"what", x.what()}}
                );
            }
            self->finish_generation(generation, stop_reason::cancelled);
        }
    );
}

void session::stop(stop_reason why)
{
    {
        std::lock_guard lock(mutex_);
        if (!running_ && remote_running_ && why == stop_reason::cancelled) {
            // Another instance generates it: ask that one (section 8).
            net::post(home_, [self = shared_from_this()] { self->publish_cancel(); });
            return;
        }
        if (!running_ || stop_reason_)
            return;
        stop_reason_ = why;
    }
    net::post(home_, [self = shared_from_this()] { self->stop_timer_.cancel(); });
}

bool session::collect(const subscriber* s, std::size_t max_bytes, protocol::frame_batch& out)
{
    bool wake_pump = false;
    bool more_to_come = false;
    std::shared_ptr<subscriber> too_slow;
    bool was_last = false;
    {
        std::lock_guard lock(mutex_);
        auto* r = attached_.find(s);
        if (!r)
            return false;
        if (r->cursor + 1 < log_.first_seq()) {
            // Section 3: the log dropped frames this connection has not sent (the others
            // kept the upstream going); it may resume from first_seq.
            too_slow = r->sub;
            attached_.remove(s);
            was_last = attached_.empty();
            wake_pump = std::exchange(pump_waiting_, false);
        } else {
            more_to_come = running_ || remote_running_;
            r->cursor = log_.collect(r->cursor, max_bytes, now_ms(), out, deliverable_locked());
            if (pump_waiting_ && log_.bytes_after(r->cursor) <= settings_.backlog_bytes) {
                pump_waiting_ = false;
                wake_pump = true;
            }
        }
    }
    if (too_slow) {
        owner_.counters.too_slow.fetch_add(1, std::memory_order_relaxed);
        too_slow->evicted(eviction::too_slow);
        after_leaving(was_last, wake_pump);
        return false;
    }
    if (wake_pump)
        net::post(home_, [self = shared_from_this()] { self->pump_timer_.cancel(); });
    return more_to_come;
}

void session::drop_subscribers()
{
    std::vector<std::shared_ptr<subscriber>> gone;
    std::lock_guard lock(mutex_);
    gone = attached_.clear();
}

bool session::attached() const
{
    std::lock_guard lock(mutex_);
    return !attached_.empty();
}

std::size_t session::connection_count() const
{
    std::lock_guard lock(mutex_);
    return attached_.size();
}

void session::readers_locked(wake_list& out)
{
    attached_.for_each([&](attachments::reader& r) { out.push_back(r.sub); });
}

void session::wake_all(const wake_list& readers)
{
    for (const auto& r : readers)
        r->wake();
}

bool session::all_behind_locked() const
{
    return attached_.all_of([&](const attachments::reader& r) {
        return log_.bytes_after(r.cursor) > settings_.backlog_bytes;
    });
}

bool session::generation_running() const
{
    std::lock_guard lock(mutex_);
    return running_;
}

usage_totals session::totals() const
{
    std::lock_guard lock(mutex_);
    return totals_;
}

std::string session::history_frame() const
{
    std::vector<protocol::history_message> messages;
    std::string out;
    std::lock_guard lock(mutex_);
    const auto& entries = history_.entries();
    messages.reserve(entries.size());
    for (const auto& e : entries)
        messages.push_back({e.turn.role, e.turn.content, e.id, e.turn.parts});
    // Completed turns only: the running turn's question comes with the log's frames
    // after through_seq (its `user` frame).
    if ((running_ || remote_running_) && !messages.empty() && messages.back().role == "user" &&
        messages.back().id == reply_->message_id)
        messages.pop_back();
    protocol::append_history_frame(out, messages, through_seq_);
    return out;
}

} // namespace tokenrelay::session
