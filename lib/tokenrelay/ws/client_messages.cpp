#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/protocol/server_frame.hpp>
#include <tokenrelay/ws/client_messages.hpp>

#include <variant>

namespace tokenrelay::ws {

void client_messages::open(
    const std::shared_ptr<session::subscriber>& self,
    const std::optional<resume_request>& resume_from,
    std::string client_ip
)
{
    client_ip_ = std::move(client_ip);
    if (resume_from)
        resume(*resume_from, self);
    else
        start_fresh_session(self);
}

void client_messages::start_fresh_session(const std::shared_ptr<session::subscriber>& self)
{
    session_ =
        state_.sessions.create(loop_.executor, loop_.source, state_.session_settings, client_ip_);
    const auto attached = session_->attach(self, std::nullopt);
    if (state_.session_settings.store) {
        pending_fresh_ = attached;
        return;
    }
    queue_session_frame(false, attached);
    log::info("ws_session", {{"session", log_id()}, {"resumed", "false"}});
}

void client_messages::resume(
    const resume_request& r, const std::shared_ptr<session::subscriber>& self
)
{
    auto found = state_.sessions.find(r.session);
    if (found) {
        attach_resumed(std::move(found), r, self);
        return;
    }
    if (state_.session_settings.store) {
        pending_resume_ = r; // the store may hold it (section 8)
        return;
    }
    resume_refused(errc::session_not_found, self);
}

awaitable<void> client_messages::finish_pending(std::shared_ptr<session::subscriber> self)
{
    if (pending_resume_) {
        const auto r = std::move(*pending_resume_);
        pending_resume_.reset();
        auto load = state_.sessions.load(
            r.session, r.last_seq, loop_.executor, loop_.source, state_.session_settings, client_ip_
        );
        auto got = co_await std::move(load);
        if (got.found)
            attach_resumed(std::move(got.found), r, self);
        else
            resume_refused(got.refused.value_or(errc::session_not_found), self);
    }
    if (pending_fresh_) {
        const auto attached = *pending_fresh_;
        pending_fresh_.reset();
        co_await session_->store_new();
        queue_session_frame(false, attached);
        log::info("ws_session", {{"session", log_id()}, {"resumed", "false"}});
    }
}

void client_messages::resume_refused(errc code, const std::shared_ptr<session::subscriber>& self)
{
    // Section 2: session_not_found (or store_unavailable), then a fresh session frame.
    queue_error(
        code,
        code == errc::store_unavailable
            ? "the session store cannot be reached for that session; a new session starts"
            : "that session is unknown or its resume window has ended"
    );
    if (session_)
        queue_session_frame(false, session_->attach(self, std::nullopt));
    else
        start_fresh_session(self);
}

void client_messages::attach_resumed(
    std::shared_ptr<session::session> found,
    const resume_request& r,
    const std::shared_ptr<session::subscriber>& self
)
{
    if (session_ && session_ != found) {
        // The fresh session made at connect time was never used: drop it now rather
        // than keep it for a resume window.
        session_->detach(self.get());
        state_.sessions.forget(*session_);
        session_->leave_store();
    }
    session_ = std::move(found);
    const auto attached = session_->attach(self, r.last_seq);
    state_.sessions.counters.resumed.fetch_add(1, std::memory_order_relaxed);
    queue_session_frame(true, attached);
    log::info(
        "ws_session",
        {{"session", log_id()}, {"resumed", "true"}, {"last_seq", std::to_string(r.last_seq)}}
    );
}

bool client_messages::on_text(
    std::string_view text, const std::shared_ptr<session::subscriber>& self
)
{
    const bool first = std::exchange(first_message_, false);
    auto decoded = protocol::decode_client_frame(text, state_.frame_limits);
    if (auto* err = std::get_if<protocol::decode_error>(&decoded)) {
        if (err->too_big)
            return false;
        queue_error(err->code, err->message, err->id);
        return true;
    }
    auto& frame = std::get<protocol::client_frame>(decoded);
    if (auto* chat = std::get_if<protocol::chat_frame>(&frame)) {
        on_chat(std::move(*chat), self);
    } else if (std::holds_alternative<protocol::cancel_frame>(frame)) {
        session_->stop(session::stop_reason::cancelled);
    } else if (auto* ping = std::get_if<protocol::ping_frame>(&frame)) {
        std::string out;
        protocol::append_pong_frame(out, now_ms(), ping->timestamp);
        answers_.push_back(std::move(out));
    } else if (std::holds_alternative<protocol::history_frame>(frame)) {
        answers_.push_back(session_->history_frame());
    } else if (auto* r = std::get_if<protocol::resume_frame>(&frame)) {
        if (!first) {
            queue_error(errc::bad_request, "resume must be the first message on a connection");
            return true;
        }
        resume({r->session, r->last_seq}, self);
    }
    return true;
}

void client_messages::on_chat(
    protocol::chat_frame chat, const std::shared_ptr<session::subscriber>& self
)
{
    auto outcome = session_->start_chat(std::move(chat), self);
    if (!outcome.refused)
        return;
    const bool limited = outcome.refused == errc::rate_limited;
    if (limited)
        metrics::global().rate_limit_refusals.fetch_add(1, std::memory_order_relaxed);
    // Section 2: both limits tell the client when to try again.
    const bool retry = limited || outcome.refused == errc::overloaded;
    queue_error(
        *outcome.refused,
        outcome.message,
        outcome.id,
        retry ? std::optional<std::int64_t>(outcome.retry_after_ms) : std::nullopt
    );
}

bool client_messages::collect(
    const session::subscriber* self, std::size_t max_bytes, protocol::frame_batch& out
)
{
    return session_ && session_->collect(self, max_bytes, out);
}

void client_messages::leave(const session::subscriber* self)
{
    if (session_)
        session_->detach(self);
}

void client_messages::queue_session_frame(bool resumed, const session::session::attach_result& r)
{
    std::string frame;
    protocol::append_session_frame(
        frame, session_->id(), resumed, r.last_seq, r.first_seq, r.connections
    );
    answers_.push_back(std::move(frame));
}

void client_messages::queue_error(
    errc code,
    std::string_view message,
    std::string_view id,
    std::optional<std::int64_t> retry_after_ms
)
{
    metrics::global().count_error(code);
    std::string frame;
    protocol::append_error_frame(frame, code, message, id, retry_after_ms);
    answers_.push_back(std::move(frame));
}

std::string client_messages::log_id() const
{
    return session_ ? short_session_id(session_->id()) : std::string("-");
}

} // namespace tokenrelay::ws
