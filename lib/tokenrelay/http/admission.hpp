#pragma once
// Every check a request passes before it is served, and the one answer they give when
// they turn it away (PROTOCOL.md sections 1 and 7). Both doors to a model, the WebSocket
// upgrade and POST /v1/chat/completions, ask the same questions here; each renders the
// refusal its own way (a plain-text answer before any upgrade; a status and a JSON error
// for a completion request).
//
// - The request itself: framing that two parsers could read differently is refused
//   (RFC 9112 sections 6.1 and 6.3, request smuggling), and so is a Host that does not
//   name the relay (DNS rebinding). Sans-I/O.
// - The client: its token and its page's origin (--client-token, --allowed-origin).
//   Sans-I/O.
// - What the client may hold: a connection, a session, a running reply, an upstream
//   request (--max-connections, --max-connections-per-ip, --max-sessions-per-ip,
//   --max-generations-per-ip, --rate-limit-per-ip, --max-upstream-requests), and nothing
//   new while the relay drains (section 2). No I/O: counters in the relay's state.

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/error.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/http/host_check.hpp>
#include <tokenrelay/runtime/relay_state.hpp>
#include <tokenrelay/session/registry.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tokenrelay::http_server {

/// A request turned away before it is served.
struct refusal
{
    boost::beast::http::status status;
    std::string message;            // a plain-text body, or a JSON error's message
    errc code = errc::bad_request;  // section 6's code, for a JSON error
    std::int64_t retry_after_s = 0; // a Retry-After header (RFC 9110 section 10.2.3); 0: none
};

/// The client a door counts a request against (the per-IP bounds): the peer's address,
/// "?" when the socket no longer has one.
std::string client_address(const beast::tcp_stream& stream);

/// The door a request came in by. A few refusals are worded for it: a WebSocket client
/// may send its token in the query, a completion request only in the header.
enum class door { websocket, completions };

/// Refused with 400: a Transfer-Encoding whose final coding is not chunked, or in an
/// HTTP/1.0 request; Transfer-Encoding together with Content-Length; a folded field line
/// (`obs_fold`, from header_scan); no Host in HTTP/1.1, more than one, or a malformed one.
/// With 501: a transfer coding other than chunked. With 421: a Host that check_host()
/// does not allow, naming neither an address of the relay nor one of `known`.
std::optional<refusal> admit_request(
    const boost::beast::http::request_header<>& header, bool obs_fold, const known_hosts& known
);

/// Who is asking, from the request's header.
struct client_credentials
{
    std::string_view authorization; // the Authorization header, may be empty
    std::string_view query_token;   // `?token=` from the request target (WebSocket door only)
    std::string_view origin;        // the Origin header; empty for non-browser clients
    std::string_view host;          // the Host header
};

/// With a client token configured, the request must carry it as a Bearer token or in
/// the query (compared in constant time): else 401. A browser request (one with an
/// Origin) must come from an allowed origin; with none configured, only the relay's own
/// origin (the Host it was reached at, over http or https): else 403.
std::optional<refusal>
check_client(door d, const client_credentials& who, const config::relay_config& cfg);

/// 503 once the drain has begun (section 2): a new client would only be cut off.
std::optional<refusal> check_draining(door d, const runtime::relay_state& state);

/// One open connection of a client, counted against --max-connections and
/// --max-connections-per-ip while held. A WebSocket and a completion request being
/// answered (it holds an upstream request) count alike.
class connection_slot
{
public:
    explicit connection_slot(runtime::connection_set& set) noexcept : set_(set) {}
    connection_slot(const connection_slot&) = delete;
    connection_slot& operator=(const connection_slot&) = delete;
    ~connection_slot();

    /// Takes a slot for `ip`; 429 past the address's bound, 503 past the total.
    std::optional<refusal> reserve(std::string ip, const config::relay_config& cfg);
    /// The WebSocket connection gives the slot back when it ends (ws::connection::serve).
    void hand_over() noexcept { held_ = false; }
    const std::string& ip() const noexcept { return ip_; }

private:
    runtime::connection_set& set_;
    std::string ip_;
    bool held_ = false;
};

/// 429 when the upgrade would open a session (a fresh one, or a resume of a session the
/// relay does not hold) and `ip` is at its bound of sessions, all with a connection: a
/// detached one would be ended to make room instead.
std::optional<refusal> check_session_room(
    const session::registry& sessions,
    const std::string& ip,
    std::optional<std::string_view> resume_session
);

/// The WebSocket door's questions, in order: draining, client, connection, session room.
/// `slot` holds the connection of `ip` when admitted. `resume_session`: the session the
/// client asks to resume (section 3), if any.
std::optional<refusal> admit_upgrade(
    const client_credentials& who,
    const std::string& ip,
    std::optional<std::string_view> resume_session,
    runtime::relay_state& state,
    connection_slot& slot
);

/// A reply admitted for a completion request, as for a WebSocket chat
/// (session::registry::admit_reply); else 429 (the client's rate or its running
/// replies), or 503 (every upstream request taken), with the wait as Retry-After.
std::variant<session::reply_admission, refusal>
admit_reply(runtime::relay_state& state, const std::string& ip);

} // namespace tokenrelay::http_server
