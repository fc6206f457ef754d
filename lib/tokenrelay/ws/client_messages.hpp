#pragma once
// What a connection's client says, acted on (PROTOCOL.md section 2): each text message is
// decoded and becomes session calls (chat, cancel, resume, history) and answer frames
// (pong, error, session, history) queued for the connection's writer. The session-facing half of a
// connection, with no socket: the connection passes itself in as the session's subscriber.

#include <tokenrelay/core/error.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/protocol/frame_batch.hpp>
#include <tokenrelay/runtime/relay_state.hpp>
#include <tokenrelay/session/session.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::ws {

/// Where a connection asked to resume from (query string or first `resume` frame).
struct resume_request
{
    std::string session;
    std::uint64_t last_seq = 0;
};

class client_messages
{
public:
    client_messages(runtime::relay_state& state, runtime::loop_context& loop)
        : state_(state), loop_(loop)
    {}

    runtime::relay_state& state() const noexcept { return state_; }
    runtime::loop_context& loop() const noexcept { return loop_; }

    /// Resumes or makes the session for `self` and queues the session frame.
    void open(
        const std::shared_ptr<session::subscriber>& self,
        const std::optional<resume_request>& resume,
        std::string client_ip
    );
    /// With a shared store, the session frame waits for the store: a resume of a session
    /// this instance does not hold is loaded from it, and a new session is written to it
    /// first. The reader awaits finish_pending() before it reads on.
    bool store_pending() const noexcept
    {
        return pending_resume_.has_value() || pending_fresh_.has_value();
    }
    awaitable<void> finish_pending(std::shared_ptr<session::subscriber> self);

    /// One whole text message from the client.
    /// False when the frame is too big: the connection closes with 1009.
    bool on_text(std::string_view text, const std::shared_ptr<session::subscriber>& self);

    /// Answer frames (text payloads) waiting for the writer, oldest first.
    std::vector<std::string>& answers() noexcept { return answers_; }
    const std::vector<std::string>& answers() const noexcept { return answers_; }
    /// The session's frames after `self`'s cursor, up to about `max_bytes`; whether more
    /// are to come (see session::collect). False with no session.
    bool
    collect(const session::subscriber* self, std::size_t max_bytes, protocol::frame_batch& out);
    /// A chat of this connection refused by the session after the fact.
    void chat_refused(
        errc code, std::string_view message, std::string_view id, std::int64_t retry_after_ms
    )
    {
        queue_error(
            code, message, id, retry_after_ms > 0 ? std::optional(retry_after_ms) : std::nullopt
        );
    }
    /// The session has let go of this connection (evicted): forget it here.
    void forget_session() noexcept { session_.reset(); }
    /// The connection ends: the session's resume window starts.
    void leave(const session::subscriber* self);

    /// The session id, shortened, for log lines ("-" before there is one).
    std::string log_id() const;

private:
    void start_fresh_session(const std::shared_ptr<session::subscriber>& self);
    void resume(const resume_request& r, const std::shared_ptr<session::subscriber>& self);
    void on_chat(protocol::chat_frame chat, const std::shared_ptr<session::subscriber>& self);
    void attach_resumed(
        std::shared_ptr<session::session> found,
        const resume_request& r,
        const std::shared_ptr<session::subscriber>& self
    );
    void resume_refused(errc code, const std::shared_ptr<session::subscriber>& self);
    void queue_session_frame(bool resumed, const session::session::attach_result& r);
    void queue_error(
        errc code,
        std::string_view message,
        std::string_view id = {},
        std::optional<std::int64_t> retry_after_ms = std::nullopt
    );

    runtime::relay_state& state_;
    runtime::loop_context& loop_;
    std::shared_ptr<session::session> session_;
    std::vector<std::string> answers_;
    std::string client_ip_;
    std::optional<resume_request> pending_resume_;
    std::optional<session::session::attach_result> pending_fresh_;
    bool first_message_ = true;
};

} // namespace tokenrelay::ws
