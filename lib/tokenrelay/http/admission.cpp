#include <tokenrelay/core/http_text.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/http/admission.hpp>
#include <tokenrelay/http/bearer.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cctype>

namespace tokenrelay::http_server {
namespace {

namespace http = boost::beast::http;

// The Retry-After of a refusal that says nothing of how long to wait.
constexpr std::int64_t default_retry_after_s = 5;

/// RFC 9112 section 6.1: the codings of every Transfer-Encoding line, in order; chunked
/// only last, and only once. Beast takes a body as chunked when the last coding is, reads
/// none when it is not, and leaves other codings to the application, which has none.
std::optional<refusal> check_transfer_coding(const http::request_header<>& header)
{
    bool chunked_last = false;
    bool other = false;
    const auto [first, last] = header.equal_range(http::field::transfer_encoding);
    for (auto field = first; field != last; ++field) {
        std::string_view rest = field->value();
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const auto coding = trim_ows(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            if (coding.empty())
                continue; // an empty list element (RFC 9110 section 5.6.1)
            if (chunked_last)
                return refusal{http::status::bad_request, "chunked must be the final coding"};
            chunked_last = boost::beast::iequals(coding, "chunked");
            other = other || !chunked_last;
        }
    }
    if (!chunked_last)
        return refusal{http::status::bad_request, "the final transfer coding must be chunked"};
    if (other)
        return refusal{http::status::not_implemented, "only the chunked transfer coding"};
    return std::nullopt;
}

std::optional<refusal> check_framing(const http::request_header<>& header, bool obs_fold)
{
    if (obs_fold)
        return refusal{http::status::bad_request, "folded header lines are not accepted"};
    const auto hosts = header.count(http::field::host);
    if (hosts > 1)
        return refusal{http::status::bad_request, "more than one Host"};
    if (hosts == 0 && header.version() >= 11)
        return refusal{http::status::bad_request, "Host is required"};
    if (header.count(http::field::transfer_encoding) == 0)
        return std::nullopt;
    // RFC 9112 section 6.1: in HTTP/1.0 the framing is faulty, and with both, a proxy that
    // goes by Content-Length reads another body than Beast does.
    if (header.version() < 11)
        return refusal{http::status::bad_request, "Transfer-Encoding needs HTTP/1.1"};
    if (header.count(http::field::content_length) != 0)
        return refusal{http::status::bad_request, "Transfer-Encoding and Content-Length"};
    return check_transfer_coding(header);
}

std::string lowercase(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool token_matches(const client_credentials& who, const std::string& token)
{
    return bearer_matches(who.authorization, token) ||
           (!who.query_token.empty() && session_id_equal(who.query_token, token));
}

bool origin_allowed(const client_credentials& who, const std::vector<std::string>& allowed)
{
    if (who.origin.empty())
        return true; // curl, wscat and servers send no Origin
    const auto origin = config::normalize_origin(who.origin);
    if (!origin)
        return false;
    if (!allowed.empty())
        return std::find(allowed.begin(), allowed.end(), *origin) != allowed.end();
    // The relay's own page: the origin names the host the request was sent to.
    const auto host = lowercase(who.host);
    for (std::string_view scheme : {"http://", "https://"}) {
        if (config::normalize_origin(std::string(scheme) + host) == origin)
            return true;
    }
    return false;
}

} // namespace

std::optional<refusal>
admit_request(const http::request_header<>& header, bool obs_fold, const known_hosts& known)
{
    if (auto refused = check_framing(header, obs_fold))
        return refused;
    // Only HTTP/1.0 may leave Host out, and browsers, whose pages a rebinding attack
    // runs in, always send it.
    if (header.count(http::field::host) == 0)
        return std::nullopt;
    switch (check_host(header[http::field::host], known)) {
    case host_verdict::allowed:
        return std::nullopt;
    case host_verdict::malformed:
        return refusal{http::status::bad_request, "malformed Host"};
    case host_verdict::misdirected:
        break;
    }
    return refusal{
        http::status::misdirected_request,
        "this relay does not answer to that host name (the operator can allow it with "
        "--public-host)"};
}

std::string client_address(const beast::tcp_stream& stream)
{
    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string();
}

std::optional<refusal>
check_client(door d, const client_credentials& who, const config::relay_config& cfg)
{
    if (!cfg.client_token.empty() && !token_matches(who, cfg.client_token)) {
        return refusal{
            http::status::unauthorized,
            d == door::websocket ? "a valid client token is required"
                                 : "a valid client token is required (Authorization: Bearer)",
            errc::unauthorized};
    }
    // A page from a foreign origin must not spend the relay's upstream key either.
    if (!origin_allowed(who, cfg.allowed_origins))
        return refusal{http::status::forbidden, "origin not allowed", errc::unauthorized};
    return std::nullopt;
}

std::optional<refusal> check_draining(door d, const runtime::relay_state& state)
{
    if (!state.draining.load())
        return std::nullopt;
    return refusal{
        http::status::service_unavailable,
        d == door::websocket ? "draining" : "the relay is shutting down",
        errc::overloaded,
        default_retry_after_s};
}

connection_slot::~connection_slot()
{
    if (held_)
        set_.release(ip_);
}

std::optional<refusal> connection_slot::reserve(std::string ip, const config::relay_config& cfg)
{
    ip_ = std::move(ip);
    switch (set_.try_reserve(ip_, cfg.max_connections, cfg.max_connections_per_ip)) {
    case runtime::reserve_result::reserved:
        held_ = true;
        return std::nullopt;
    case runtime::reserve_result::over_per_ip:
        return refusal{
            http::status::too_many_requests,
            "too many connections from this address",
            errc::overloaded,
            default_retry_after_s};
    case runtime::reserve_result::over_total:
        break;
    }
    return refusal{
        http::status::service_unavailable, "overloaded", errc::overloaded, default_retry_after_s};
}

std::optional<refusal> check_session_room(
    const session::registry& sessions,
    const std::string& ip,
    std::optional<std::string_view> resume_session
)
{
    const bool opens_session = !resume_session || !sessions.find(*resume_session);
    if (!opens_session || sessions.clients.may_add_session(ip))
        return std::nullopt;
    return refusal{
        http::status::too_many_requests,
        "too many sessions from this address",
        errc::overloaded,
        default_retry_after_s};
}

std::optional<refusal> admit_upgrade(
    const client_credentials& who,
    const std::string& ip,
    std::optional<std::string_view> resume_session,
    runtime::relay_state& state,
    connection_slot& slot
)
{
    if (auto refused = check_draining(door::websocket, state))
        return refused;
    if (auto refused = check_client(door::websocket, who, state.config))
        return refused;
    if (auto refused = slot.reserve(ip, state.config))
        return refused;
    return check_session_room(state.sessions, ip, resume_session);
}

std::variant<session::reply_admission, refusal>
admit_reply(runtime::relay_state& state, const std::string& ip)
{
    auto admitted = state.sessions.admit_reply(ip, nullptr, &state.upstream_slots);
    if (admitted)
        return admitted;
    const bool overloaded = *admitted.refused == errc::overloaded;
    return refusal{
        overloaded ? http::status::service_unavailable : http::status::too_many_requests,
        std::move(admitted.message),
        *admitted.refused,
        std::max<std::int64_t>(1, (admitted.retry_after_ms + 999) / 1000)};
}

} // namespace tokenrelay::http_server
