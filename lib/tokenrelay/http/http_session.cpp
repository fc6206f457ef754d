#include <tokenrelay/core/log.hpp>
#include <tokenrelay/http/admission.hpp>
#include <tokenrelay/http/completions.hpp>
#include <tokenrelay/http/header_scan.hpp>
#include <tokenrelay/http/http_session.hpp>
#include <tokenrelay/http/metrics_route.hpp>
#include <tokenrelay/http/responses.hpp>
#include <tokenrelay/http/upgrade_access.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/ws/connection.hpp>
#include <tokenrelay/ws/handshake.hpp>

#include <boost/url/parse.hpp>

#include <charconv>
#include <optional>

namespace tokenrelay::http_server {
namespace {

constexpr std::size_t max_header_bytes = 16 * 1024;
constexpr std::size_t header_read_bytes = 4096;

using request_parser = http::request_parser<http::string_body>;

/// Reads until `buffer` holds the request's whole header block, then parses it into
/// `parser`. The raw block goes through `scan` first: once parsed, a folded line no longer
/// shows. Bytes past the header stay in `buffer` for the body or the next request.
awaitable<error_code> read_header(
    beast::tcp_stream& stream, beast::flat_buffer& buffer, request_parser& parser, header_scan& scan
)
{
    for (;;) {
        const auto bytes = buffer.cdata();
        scan.feed({static_cast<const char*>(bytes.data()), bytes.size()});
        if (scan.complete())
            break;
        if (buffer.size() >= max_header_bytes)
            co_return http::error::header_limit;
        auto [ec, n] =
            co_await stream.async_read_some(buffer.prepare(header_read_bytes), use_tuple);
        if (ec)
            co_return ec;
        buffer.commit(n);
    }
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    co_return ec;
}

bool is_head(const request_parser& parser)
{
    return parser.get().method() == http::verb::head;
}

/// Answers a request that is not served, then closes. HTTP/1.1 whatever the request's
/// version (RFC 9110 section 2.5), so that the answer can say `Connection: close`.
awaitable<void>
refuse(beast::tcp_stream& stream, http::status status, std::string_view why, bool head)
{
    co_await write_response(stream, text_response(status, why, 11, false), head);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

std::string_view path_of(std::string_view target)
{
    return target.substr(0, target.find_first_of("?#"));
}

/// `session` and `last_seq` from `/ws?session=…&last_seq=…` (section 3).
std::optional<ws::resume_request> resume_from_query(std::string_view target)
{
    auto url = boost::urls::parse_origin_form(target);
    if (!url)
        return std::nullopt;
    auto params = url->params();
    auto s = params.find("session");
    if (s == params.end() || (*s).value.empty())
        return std::nullopt;
    ws::resume_request r;
    r.session = (*s).value;
    if (auto l = params.find("last_seq"); l != params.end()) {
        const std::string v = (*l).value;
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec == std::errc{} && p == v.data() + v.size())
            r.last_seq = n;
    }
    return r;
}

/// The `token` query parameter (section 7, --client-token), decoded.
std::string query_token(std::string_view target)
{
    auto url = boost::urls::parse_origin_form(target);
    if (!url)
        return {};
    auto params = url->params();
    auto t = params.find("token");
    return t == params.end() ? std::string() : std::string((*t).value);
}

/// The answer of a door that needs no I/O of its own: health, readiness, metrics and
/// static files, for GET and HEAD; 405 for any other method.
response plain_response(
    const http::request<http::string_body>& request,
    std::string_view path,
    const ws::relay_state& state
)
{
    const auto version = request.version();
    const bool keep_alive = request.keep_alive();
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
        auto res = text_response(
            http::status::method_not_allowed, "method not allowed", version, keep_alive
        );
        res.set(http::field::allow, "GET, HEAD");
        return res;
    }
    if (path == "/healthz")
        return text_response(http::status::ok, "ok", version, keep_alive);
    if (path == "/metrics")
        return metrics_response(state, request);
    if (path == "/readyz") {
        const bool ready =
            !state.draining.load() && state.connections.size() < state.config.max_connections;
        return text_response(
            ready ? http::status::ok : http::status::service_unavailable,
            ready ? "ready" : "not ready",
            version,
            keep_alive
        );
    }
    return static_file_response(state.config.static_dir, request);
}

std::string peer_ip(const beast::tcp_stream& stream)
{
    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string();
}

awaitable<void> refuse_upgrade(
    beast::tcp_stream& stream, http::status status, std::string_view why, unsigned version
)
{
    metrics::global().upgrades_refused.fetch_add(1, std::memory_order_relaxed);
    auto res = text_response(status, why, version, false);
    if (status == http::status::service_unavailable || status == http::status::too_many_requests)
        res.set(http::field::retry_after, "5");
    // RFC 6455 section 4.4: a refusal of the client's protocol version names ours.
    if (status == http::status::upgrade_required)
        res.set(http::field::sec_websocket_version, "13");
    co_await write_response(stream, std::move(res), false);
}

} // namespace

awaitable<void> run_http_session(
    tcp::socket socket,
    ws::relay_state& state,
    ws::loop_context& loop,
    std::chrono::steady_clock::time_point first_deadline
)
{
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    const auto& cfg = state.config;
    for (auto deadline = first_deadline;;
         deadline = std::chrono::steady_clock::now() + cfg.header_timeout) {
        request_parser parser;
        parser.header_limit(max_header_bytes);
        parser.body_limit(cfg.max_http_body_bytes);
        // One deadline for the whole request, body included, and for the wait for the next
        // one on a kept-alive connection (the first one's runs from accept): a client that
        // trickles (slowloris) is cut off.
        stream.expires_at(deadline);
        header_scan scan;
        auto ec = co_await read_header(stream, buffer, parser, scan);
        if (!ec) {
            // Every request passes here once, before anything of it is routed or its body
            // read: a refused one ends the connection, so nothing behind it is taken for a
            // request.
            const auto refused = admit_request(parser.get(), scan.obs_fold(), known_hosts_of(cfg));
            if (refused) {
                co_await refuse(stream, refused->status, refused->reason, is_head(parser));
                co_return;
            }
            auto [body_ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
            ec = body_ec;
        }
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == net::error::connection_reset || ec == net::error::eof) {
            co_return;
        }
        if (ec == http::error::body_limit) {
            co_await refuse(
                stream, http::status::payload_too_large, "request body too large", is_head(parser)
            );
            co_return;
        }
        if (ec) {
            co_await refuse(stream, http::status::bad_request, "bad request", is_head(parser));
            co_return;
        }
        auto request = parser.release();
        const auto path = path_of(request.target());
        const auto version = request.version();

        if (websocket::is_upgrade(request) && (path == "/" || path == "/ws")) {
            if (state.draining.load()) {
                co_await refuse_upgrade(
                    stream, http::status::service_unavailable, "draining", version
                );
                co_return;
            }
            const auto token = query_token(request.target());
            const auto verdict = check_upgrade(
                {request[http::field::authorization],
                 token,
                 request[http::field::origin],
                 request[http::field::host]},
                cfg.client_token,
                cfg.allowed_origins
            );
            if (verdict != upgrade_verdict::allowed) {
                const bool auth = verdict == upgrade_verdict::unauthorized;
                co_await refuse_upgrade(
                    stream,
                    auth ? http::status::unauthorized : http::status::forbidden,
                    auth ? "a valid client token is required" : "origin not allowed",
                    version
                );
                co_return;
            }
            const auto ip = peer_ip(stream);
            const auto reserved =
                state.connections.try_reserve(ip, cfg.max_connections, cfg.max_connections_per_ip);
            if (reserved != ws::reserve_result::reserved) {
                const bool per_ip = reserved == ws::reserve_result::over_per_ip;
                co_await refuse_upgrade(
                    stream,
                    per_ip ? http::status::too_many_requests : http::status::service_unavailable,
                    per_ip ? "too many connections from this address" : "overloaded",
                    version
                );
                co_return;
            }
            auto resume = resume_from_query(request.target());
            // Section 7: a client at its bound of sessions, all of them with a connection,
            // gets no new one (a detached one would be ended to make room instead). A
            // resume of a session the relay does not hold opens a new one too.
            const bool opens_session = !resume || !state.sessions.find(resume->session);
            if (opens_session && !state.sessions.clients.may_add_session(ip)) {
                co_await refuse_upgrade(
                    stream,
                    http::status::too_many_requests,
                    "too many sessions from this address",
                    version
                );
                state.connections.release(ip);
                co_return;
            }
            // Beast's stream answers the upgrade with --compression: it negotiates
            // permessage-deflate. Otherwise the handshake is answered here.
            if (!cfg.compression) {
                const auto check = ws::check_handshake(request);
                if (check.status != http::status::switching_protocols) {
                    co_await refuse_upgrade(stream, check.status, check.reason, version);
                    state.connections.release(ip);
                    co_return;
                }
                auto res = ws::switching_protocols(request);
                auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
                if (ec) {
                    state.connections.release(ip);
                    co_return;
                }
            }
            // The WebSocket has its own timeouts from here on (BOOST_NOTES section 5).
            stream.expires_never();
            auto conn = std::make_shared<ws::connection>(stream.release_socket(), state, loop);
            auto& c = *conn;
            // This frame (parser, read buffer, the loop's locals) is done with: the
            // connection gets a coroutine of its own, so an idle WebSocket holds only the
            // state it needs (issue 7: memory per open session).
            auto serving = [&] {
                if (cfg.compression) {
                    return c.serve_compressed(
                        std::move(conn), std::move(request), std::move(resume), ip
                    );
                }
                // Frames a client sent right behind its request may have been read with it.
                const auto rest = buffer.cdata();
                c.open(resume, ip, {static_cast<const char*>(rest.data()), rest.size()});
                return c.serve(std::move(conn), ip);
            }();
            net::co_spawn(
                co_await net::this_coro::executor, std::move(serving), log::connection_failure
            );
            co_return;
        }

        bool keep = false;
        if (path == "/v1/chat/completions") {
            keep = co_await serve_completion(stream, buffer, request, state, loop);
        } else {
            auto res = plain_response(request, path, state);
            const bool again = res.keep_alive();
            const bool head = request.method() == http::verb::head;
            keep = co_await write_response(stream, std::move(res), head) && again;
        }
        if (!keep) {
            error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            co_return;
        }
    }
}

} // namespace tokenrelay::http_server
