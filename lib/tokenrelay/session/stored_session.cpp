// The shared store's half of a session (PROTOCOL.md section 8). The instance that holds
// the lease of a reply logs it here as always, sends each batch of frames to the store,
// and lets its connections have them once the store has acknowledged them (durable
// before delivered). Every other instance with the session follows the store's log:
// a notification on the session's channel makes it read what it lacks, and its
// connections read from its copy. The store down, frames go out from memory and the
// session stays on this instance.

#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/session/registry.hpp>
#include <tokenrelay/session/session.hpp>
#include <tokenrelay/session/store_link.hpp>
#include <tokenrelay/store/shared_store.hpp>

#include <charconv>
#include <limits>

namespace tokenrelay::session {
namespace {

constexpr auto busy_message = "a reply is still streaming in this session; cancel it or wait";

// How often an instance that follows a running reply looks whether its generator still
// holds the lease (section 8: it ends an orphaned reply within a second of the lapse).
constexpr auto lease_check_period = std::chrono::milliseconds(1000);

store::record_kind to_record(entry_kind k)
{
    switch (k) {
    case entry_kind::user:
        return store::record_kind::user;
    case entry_kind::user_parts:
        return store::record_kind::user_parts;
    case entry_kind::token:
        return store::record_kind::token;
    case entry_kind::reasoning:
        return store::record_kind::reasoning;
    case entry_kind::refusal:
        return store::record_kind::refusal;
    case entry_kind::end:
        return store::record_kind::end;
    case entry_kind::error:
        return store::record_kind::error;
    }
    return store::record_kind::token;
}

metrics::store_error_kind store_error_kind_of(error_code ec)
{
    using metrics::store_error_kind;
    if (ec == store::connection_error::timeout)
        return store_error_kind::timeout;
    if (ec == store::connection_error::lost)
        return store_error_kind::lost;
    if (ec == store::connection_error::protocol)
        return store_error_kind::protocol;
    return store_error_kind::down; // not sent: down, or stopping
}

entry_kind to_entry(store::record_kind k)
{
    switch (k) {
    case store::record_kind::user:
        return entry_kind::user;
    case store::record_kind::user_parts:
        return entry_kind::user_parts;
    case store::record_kind::token:
        return entry_kind::token;
    case store::record_kind::reasoning:
        return entry_kind::reasoning;
    case store::record_kind::refusal:
        return entry_kind::refusal;
    case store::record_kind::end:
        return entry_kind::end;
    case store::record_kind::error:
        return entry_kind::error;
    }
    return entry_kind::token;
}

/// N of a relay-made message id "m<N>".
std::uint64_t message_number(std::string_view id)
{
    std::uint64_t n = 0;
    if (id.size() < 2 || id[0] != 'm')
        return 0;
    auto [p, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), n);
    return ec == std::errc{} && p == id.data() + id.size() ? n : 0;
}

std::uint64_t parse_seq(std::string_view s)
{
    std::uint64_t n = 0;
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

} // namespace

std::optional<store::stored_session>
parse_stored(const std::vector<store::resp_value>& replies, std::string_view session_id)
{
    try {
        return store::parse_load(replies);
    } catch (const std::exception& e) {
        log::warn(
            "store_load_failed", {{"session", short_session_id(session_id)}, {"what", e.what()}}
        );
        return std::nullopt;
    }
}

void session::join_store(const store::stored_session* stored)
{
    auto& loop = settings_.store->at(home_);
    store_ = std::make_unique<store_link>(loop, store::keys_for(id_));
    std::weak_ptr<session> weak = weak_from_this();
    loop.subscribe(store_->keys.notify, [weak](std::string_view payload) {
        if (auto self = weak.lock())
            self->on_notified(payload);
    });
    store_->joined = true;
    if (!stored)
        return;
    {
        std::lock_guard lock(mutex_);
        apply_meta_locked(stored->meta);
        for (const auto& t : stored->history)
            history_.add({t.role, t.content, t.parts}, t.id);
    }
    apply_records(stored->records);
}

awaitable<void> session::store_new()
{
    store::stored_meta meta;
    {
        std::lock_guard lock(mutex_);
        meta = meta_locked();
    }
    // Failure is no error here: without the store the session lives on this instance.
    auto save = store_->loop.commands().async_exec(
        store::save_meta_request(store_->keys, meta, settings_.resume_window), use_tuple
    );
    co_await std::move(save);
}

void session::leave_store()
{
    if (!store_ || !store_->joined)
        return;
    store_->joined = false;
    store_->loop.unsubscribe(store_->keys.notify);
    store_->loop.unsubscribe(store_->keys.cancel);
    store_->loop.stop_keeping_alive(store_->keys.meta);
}

bool session::work_pending() const
{
    std::lock_guard lock(mutex_);
    return running_ || (store_ && !store_->local_only && store_->durable_seq < log_.last_seq());
}

bool session::local_only() const
{
    std::lock_guard lock(mutex_);
    return store_ && store_->local_only;
}

void session::apply_meta_locked(const store::stored_meta& meta)
{
    next_message_number_ = std::max(next_message_number_, meta.next_message);
    through_seq_ = std::max(through_seq_, meta.through_seq);
    totals_.prompt_tokens = std::max(totals_.prompt_tokens, meta.prompt_tokens);
    totals_.completion_tokens = std::max(totals_.completion_tokens, meta.completion_tokens);
    totals_.cost_usd = std::max(totals_.cost_usd, meta.cost_usd);
}

store::stored_meta session::meta_locked() const
{
    store::stored_meta m;
    m.next_message = next_message_number_;
    m.through_seq = through_seq_;
    m.prompt_tokens = totals_.prompt_tokens;
    m.completion_tokens = totals_.completion_tokens;
    m.cost_usd = totals_.cost_usd;
    m.local_only = store_ && store_->local_only;
    return m;
}

std::uint64_t session::logged_through() const
{
    std::lock_guard lock(mutex_);
    return log_.last_seq();
}

std::uint64_t session::deliverable_locked() const noexcept
{
    if (!store_ || store_->local_only)
        return std::numeric_limits<std::uint64_t>::max();
    return store_->durable_seq;
}

void session::store_record_locked(entry_kind kind, std::string_view message_id)
{
    if (!store_ || store_->local_only)
        return;
    // An error carries the seq of the stream_end that follows it.
    const auto seq = kind == entry_kind::error ? log_.last_seq() + 1 : log_.last_seq();
    store_->unsent.push_back(
        {seq, to_record(kind), std::string(message_id), std::string(log_.last_text())}
    );
}

void session::go_local_locked(std::string_view why)
{
    if (!store_->local_only) {
        store_->local_only = true;
        // Other instances must not resume it from the store, which lacks part of it.
        store_->loop.mark_local(store_->keys);
        metrics::global().store_sessions_local.fetch_add(1, std::memory_order_relaxed);
        log::warn(
            "store_session_local", {{"session", short_session_id(id_)}, {"why", std::string(why)}}
        );
    }
    store_->unsent.clear();
    store_->ended_turns.clear();
    store_->end_pending = false;
}

void session::flush_to_store()
{
    if (!store_ || store_->in_flight)
        return;
    store::redis_request request;
    std::uint64_t last = 0;
    bool ended = false;
    wake_list readers;
    {
        std::lock_guard lock(mutex_);
        auto& link = *store_;
        if (!link.local_only && link.unsent.empty() && !link.end_pending)
            return;
        if (!link.local_only && !link.loop.commands().up())
            go_local_locked("store down");
        if (link.local_only) {
            readers_locked(readers);
        } else {
            const auto meta = meta_locked();
            bool opens_turn = false;
            for (const auto& r : link.unsent)
                opens_turn = opens_turn || r.kind == store::record_kind::user ||
                             r.kind == store::record_kind::user_parts;
            if (!link.unsent.empty()) {
                // The expiry is renewed with a turn's first append and then once in a third
                // of the window, not with every token: a token costs two commands (XADD,
                // PUBLISH) instead of five (docs/performance.md, "The shared store").
                const auto now = std::chrono::steady_clock::now();
                std::optional<std::chrono::milliseconds> touch;
                if (opens_turn || now - link.touched >= settings_.resume_window / 3) {
                    touch = settings_.resume_window;
                    link.touched = now;
                }
                request = store::append_request(
                    link.keys, link.unsent, opens_turn ? &meta : nullptr, touch
                );
                last = link.unsent.back().seq;
                metrics::global().store_appends.fetch_add(
                    link.unsent.size(), std::memory_order_relaxed
                );
                metrics::global().store_append_batches.fetch_add(1, std::memory_order_relaxed);
                link.unsent.clear();
            }
            if (link.end_pending) {
                request.append(store::end_turn_request(
                    link.keys,
                    link.ended_turns,
                    settings_.history_max_turns,
                    log_.kept_from_seq(),
                    meta,
                    link.loop.instance(),
                    settings_.resume_window
                ));
                link.ended_turns.clear();
                link.end_pending = false;
                ended = true;
            }
            link.in_flight = true;
        }
    }
    if (!readers.empty() || request.empty()) {
        wake_all(readers);
        return;
    }
    if (ended && store_->writer) {
        store_->writer = false;
        store_->loop.release_lease(store_->keys.lease);
        store_->loop.unsubscribe(store_->keys.cancel);
    }
    metrics::global().store_bytes.fetch_add(request.bytes().size(), std::memory_order_relaxed);
    store_->loop.commands().async_exec(
        std::move(request),
        [self = shared_from_this(), last, sent = std::chrono::steady_clock::now()](
            error_code ec, std::vector<store::resp_value> replies
        ) {
            metrics::global().store_latency.observe(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                    .count()
            );
            self->on_flushed(ec, replies, last);
        }
    );
}

void session::on_flushed(
    error_code ec, const std::vector<store::resp_value>& replies, std::uint64_t last
)
{
    wake_list readers;
    {
        std::lock_guard lock(mutex_);
        store_->in_flight = false;
        if (ec) {
            metrics::global().count_store_error(store_error_kind_of(ec));
            go_local_locked(ec.message());
        } else if (!store::append_succeeded(replies)) {
            std::string why = "store refused an append";
            for (const auto& r : replies)
                if (r.is_error())
                    why = r.text;
            metrics::global().count_store_error(metrics::store_error_kind::refused);
            go_local_locked(why);
        } else if (last > store_->durable_seq) {
            store_->durable_seq = last;
        }
        readers_locked(readers);
    }
    wake_all(readers);
    flush_to_store(); // what was logged meanwhile
    if (settings_.drain)
        settings_.drain->notify(); // it may wait for this acknowledgement
}

awaitable<void> session::begin_with_store(
    protocol::chat_frame chat,
    std::string id,
    std::uint64_t generation,
    std::weak_ptr<subscriber> from
)
{
    auto self = shared_from_this();
    auto& commands = store_->loop.commands();
    bool local = local_only();
    if (!local) {
        auto take = commands.async_exec(
            store::take_lease_request(
                store_->keys, store_->loop.instance(), store_->loop.timing().lease_ttl
            ),
            use_tuple
        );
        auto [ec, lease] = co_await std::move(take);
        if (ec) {
            std::lock_guard lock(mutex_);
            go_local_locked("store down");
            local = true;
        } else if (lease.empty() || !lease[0].is_status("OK")) {
            // Another instance generates a reply in this session (its frames may not
            // have reached this one yet).
            {
                std::lock_guard lock(mutex_);
                if (generation == generation_)
                    running_ = false;
                slot_.reset();
                ticket_.reset();
            }
            if (auto s = from.lock())
                s->refused(errc::busy, busy_message, id, 0);
            read_more();
            co_return;
        } else {
            // Ours: catch up before numbering anything, so seqs go on from the store's.
            auto load =
                commands.async_exec(store::load_request(store_->keys, logged_through()), use_tuple);
            auto [lec, loaded] = co_await std::move(load);
            auto got = lec ? std::nullopt : parse_stored(loaded, id_);
            if (!got) {
                std::lock_guard lock(mutex_);
                go_local_locked(lec ? lec.message() : "unreadable store reply");
                local = true;
            } else {
                {
                    std::lock_guard lock(mutex_);
                    apply_meta_locked(got->meta);
                }
                apply_records(std::move(got->records));
                // A reply still open in the log with nobody holding its lease was
                // interrupted (section 8).
                std::lock_guard lock(mutex_);
                if (remote_running_)
                    end_remote_turn_locked("interrupted");
            }
        }
    }
    if (!local) {
        store_->writer = true;
        std::weak_ptr<session> weak = weak_from_this();
        store_->loop.hold_lease(store_->keys, [weak] {
            if (auto s = weak.lock()) {
                std::lock_guard lock(s->mutex_);
                s->go_local_locked("lease lost");
            }
        });
        store_->loop.subscribe(store_->keys.cancel, [weak](std::string_view) {
            if (auto s = weak.lock())
                s->stop(stop_reason::cancelled);
        });
    }
    if (!begin_stored_generation(chat, id, generation))
        co_return;
    flush_to_store();
}

bool session::begin_stored_generation(
    protocol::chat_frame& chat, const std::string& id, std::uint64_t generation
)
{
    chat_request request;
    wake_list readers;
    {
        std::lock_guard lock(mutex_);
        if (generation != generation_ || !running_)
            return false;
        const auto kept_stop = stop_reason_;
        request = begin_generation_locked(std::move(chat), id);
        stop_reason_ = kept_stop; // a cancel while the lease was taken still counts
        store_->turn_user = store::stored_turn{
            "user", request.messages.back().content, id, request.messages.back().parts};
        if (store_->local_only)
            readers_locked(readers);
    }
    spawn_generation(std::move(request), id, generation);
    wake_all(readers);
    return true;
}

void session::apply_records(std::vector<store::log_record> records)
{
    wake_list readers;
    bool watch = false;
    {
        std::lock_guard lock(mutex_);
        // An instance that generates is the source of its log; one that went on without
        // the store has a log of its own.
        if (!store_ || store_->writer || store_->local_only)
            return;
        for (auto& r : records) {
            const auto kind = to_entry(r.kind);
            if (!log_.append_stored(kind, r.seq, r.message_id, r.data))
                continue;
            if (r.seq <= through_seq_)
                continue; // a turn the history holds already
            switch (kind) {
            case entry_kind::user:
            case entry_kind::user_parts:
                set_remote_running_locked(true);
                if (!reply_)
                    reply_ = std::make_unique<reply_state>();
                reply_->message_id = r.message_id;
                reply_->text.clear();
                if (kind == entry_kind::user)
                    history_.add({"user", r.data}, r.message_id);
                else
                    history_.add({"user", protocol::text_of_parts(r.data), r.data}, r.message_id);
                next_message_number_ =
                    std::max(next_message_number_, message_number(r.message_id) + 1);
                break;
            case entry_kind::token:
                if (remote_running_ && reply_)
                    append_within(reply_->text, r.data, settings_.history_max_bytes);
                break;
            case entry_kind::end:
                if (reply_ && !reply_->text.empty())
                    history_.add({"assistant", std::move(reply_->text)}, r.message_id);
                if (reply_)
                    reply_->text.clear();
                through_seq_ = r.seq;
                set_remote_running_locked(false);
                break;
            default:
                break;
            }
        }
        store_->durable_seq = log_.last_seq();
        readers_locked(readers);
        watch = remote_running_ && !store_->watching && store_->joined;
        if (watch)
            store_->watching = true;
    }
    wake_all(readers);
    if (watch) {
        net::co_spawn(home_, watch_writer(), log::task_failure{"store watch"});
    }
}

void session::on_notified(std::string_view payload)
{
    if (!store_ || store_->writer)
        return;
    if (!payload.empty()) {
        std::lock_guard lock(mutex_);
        if (parse_seq(payload) <= log_.last_seq())
            return;
    }
    read_more();
}

void session::read_more()
{
    if (!store_ || !store_->joined)
        return;
    if (store_->reading) {
        store_->read_again = true;
        return;
    }
    store_->reading = true;
    std::weak_ptr<session> weak = weak_from_this();
    store_->loop.commands().async_exec(
        store::read_request(store_->keys, logged_through()),
        [weak](error_code ec, std::vector<store::resp_value> replies) {
            auto self = weak.lock();
            if (!self)
                return;
            self->store_->reading = false;
            if (!ec && !replies.empty() && !replies[0].is_error()) {
                try {
                    self->apply_records(store::parse_records(replies[0]));
                } catch (const std::exception& e) {
                    log::warn(
                        "store_read_failed",
                        {{"session", short_session_id(self->id_)}, {"what", e.what()}}
                    );
                }
            }
            if (std::exchange(self->store_->read_again, false))
                self->read_more();
        }
    );
}

awaitable<void> session::watch_writer()
{
    auto self = shared_from_this();
    net::steady_timer timer(home_);
    for (;;) {
        timer.expires_after(lease_check_period);
        co_await timer.async_wait(use_tuple);
        {
            std::lock_guard lock(mutex_);
            if (!remote_running_ || !store_->joined || running_) {
                store_->watching = false;
                co_return;
            }
        }
        auto& commands = store_->loop.commands();
        if (!commands.up())
            continue;
        store::redis_request exists;
        exists.push({"EXISTS", store_->keys.lease});
        auto check = commands.async_exec(std::move(exists), use_tuple);
        auto [ec, v] = co_await std::move(check);
        if (ec || v.empty() || v[0].integer != 0)
            continue;
        co_await take_over_interrupted();
    }
}

awaitable<bool> session::take_over_interrupted()
{
    auto& commands = store_->loop.commands();
    const auto& instance = store_->loop.instance();
    auto take = commands.async_exec(
        store::take_lease_request(store_->keys, instance, store_->loop.timing().lease_ttl),
        use_tuple
    );
    auto [ec, lease] = co_await std::move(take);
    if (ec || lease.empty() || !lease[0].is_status("OK"))
        co_return false; // another instance took it: a new reply, or another follower
    auto read = commands.async_exec(store::load_request(store_->keys, logged_through()), use_tuple);
    auto [rec, got] = co_await std::move(read);
    auto loaded = rec ? std::nullopt : parse_stored(got, id_);
    if (loaded)
        apply_records(std::move(loaded->records));
    bool ended = false;
    {
        std::lock_guard lock(mutex_);
        if (remote_running_ && !running_) {
            if (loaded && loaded->meta.local_only) {
                // Its generator went on without the store: the rest is not to be had.
                // The turn ends here, for the connections here, and nothing more of this
                // session is written.
                go_local_locked("generated elsewhere without the store");
            }
            end_remote_turn_locked("interrupted");
            ended = true;
        }
    }
    if (ended) {
        metrics::global().store_takeovers.fetch_add(1, std::memory_order_relaxed);
        log::info("store_reply_interrupted", {{"session", short_session_id(id_)}});
        flush_to_store(); // the stream_end, the history, and the lease given back
    }
    if (!ended || local_only())
        commands.async_exec(
            store::release_lease_request(store_->keys, instance), store::ignore_reply
        );
    co_return ended;
}

void session::end_remote_turn_locked(std::string_view reason)
{
    protocol::stream_end_fields end;
    end.id = reply_ ? reply_->message_id : std::string{};
    end.reason = std::string(reason);
    through_seq_ = log_.append_end(std::move(end));
    const auto& id = reply_ ? reply_->message_id : std::string{};
    store_record_locked(entry_kind::end, id);
    store_->ended_turns.clear();
    const auto& entries = history_.entries();
    if (!entries.empty() && entries.back().turn.role == "user" && entries.back().id == id)
        store_->ended_turns.push_back(
            {"user", entries.back().turn.content, id, entries.back().turn.parts}
        );
    if (reply_ && !reply_->text.empty()) {
        store_->ended_turns.push_back({"assistant", reply_->text, id});
        history_.add({"assistant", std::move(reply_->text)}, id);
        reply_->text.clear();
    }
    store_->end_pending = !store_->local_only;
    set_remote_running_locked(false);
}

void session::set_remote_running_locked(bool running)
{
    if (remote_running_ == running)
        return;
    remote_running_ = running;
    metrics::global().store_following.fetch_add(running ? 1 : -1, std::memory_order_relaxed);
}

void session::publish_cancel()
{
    if (store_ && store_->loop.commands().up())
        store_->loop.commands().async_exec(
            store::cancel_request(store_->keys), store::ignore_reply
        );
}

} // namespace tokenrelay::session
