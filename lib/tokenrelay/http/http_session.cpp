#include <tokenrelay/core/log.hpp>
#include <tokenrelay/http/admission.hpp>
#include <tokenrelay/http/completions.hpp>
#include <tokenrelay/http/header_scan.hpp>
#include <tokenrelay/http/http_session.hpp>
#include <tokenrelay/http/metrics_route.hpp>
#include <tokenrelay/http/responses.hpp>
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
    const runtime::relay_state& state
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
        std::string body = ready ? "ready" : "not ready";
        // Section 8: a store that is down leaves the instance serving on its own.
        if (state.store)
            body += state.store->up() ? "\nstore: up" : "\nstore: down";
        return text_response(
            ready ? http::status::ok : http::status::service_unavailable, body, version, keep_alive
        );
    }
    return static_file_response(state.config.static_dir, request);
}

/// A refusal before the upgrade (admission.hpp, or the handshake's own checks): a plain
/// answer and no WebSocket.
awaitable<void> refuse_upgrade(beast::tcp_stream& stream, const refusal& refused, unsigned version)
{
    metrics::global().upgrades_refused.fetch_add(1, std::memory_order_relaxed);
    auto res = text_response(refused.status, refused.message, version, false);
    if (refused.retry_after_s > 0)
        res.set(http::field::retry_after, std::to_string(refused.retry_after_s));
    // RFC 6455 section 4.4: a refusal of the client's protocol version names ours.
    if (refused.status == http::status::upgrade_required)
        res.set(http::field::sec_websocket_version, "13");
    co_await write_response(stream, std::move(res), false);
}

/// Reads one request, header then body. A request that is refused (admit_request(), a
/// body too large or malformed) is answered here; false then, and when the client closed
/// or the deadline passed: the connection ends.
awaitable<bool> read_request(
    beast::tcp_stream& stream,
    beast::flat_buffer& buffer,
    request_parser& parser,
    const config::relay_config& cfg
)
{
    header_scan scan;
    auto ec = co_await read_header(stream, buffer, parser, scan);
    if (!ec) {
        // Every request passes here once, before anything of it is routed or its body
        // read: a refused one ends the connection, so nothing behind it is taken for a
        // request.
        const auto refused = admit_request(parser.get(), scan.obs_fold(), known_hosts_of(cfg));
        if (refused) {
            co_await refuse(stream, refused->status, refused->message, is_head(parser));
            co_return false;
        }
        auto [body_ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        ec = body_ec;
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::eof) {
        co_return false;
    }
    if (ec == http::error::body_limit) {
        co_await refuse(
            stream, http::status::payload_too_large, "request body too large", is_head(parser)
        );
        co_return false;
    }
    if (ec) {
        co_await refuse(stream, http::status::bad_request, "bad request", is_head(parser));
        co_return false;
    }
    co_return true;
}

/// The WebSocket door up to the hand-over: admission (section 7), then the handshake
/// unless Beast's stream answers it (with --compression it negotiates permessage-deflate).
/// False when the upgrade was refused (the refusal is written) or the answer failed.
awaitable<bool> accept_upgrade(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    const std::optional<ws::resume_request>& resume,
    runtime::relay_state& state,
    connection_slot& slot
)
{
    const auto version = request.version();
    const auto token = query_token(request.target());
    const client_credentials who{
        request[http::field::authorization],
        token,
        request[http::field::origin],
        request[http::field::host]};
    std::optional<std::string_view> resume_session;
    if (resume)
        resume_session = resume->session;
    const auto ip = client_address(stream);
    if (auto refused = admit_upgrade(who, ip, resume_session, state, slot)) {
        co_await refuse_upgrade(stream, *refused, version);
        co_return false;
    }
    if (state.config.compression)
        co_return true;
    const auto check = ws::check_handshake(request);
    if (check.status != http::status::switching_protocols) {
        // Named, not a temporary in the co_await: GCC 12 destroys those twice.
        const refusal refused{check.status, std::string(check.reason)};
        co_await refuse_upgrade(stream, refused, version);
        co_return false;
    }
    auto res = ws::switching_protocols(request);
    auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
    co_return !ec;
}

/// A request for anything but the WebSocket; returns whether the connection may serve
/// another one.
awaitable<bool> answer_request(
    beast::tcp_stream& stream,
    beast::flat_buffer& buffer,
    const http::request<http::string_body>& request,
    runtime::relay_state& state,
    runtime::loop_context& loop
)
{
    const auto path = path_of(request.target());
    if (path == "/v1/chat/completions")
        co_return co_await serve_completion(stream, buffer, request, state, loop);
    const bool read_only =
        request.method() == http::verb::get || request.method() == http::verb::head;
    if (path == "/v1/models" && read_only)
        co_return co_await serve_models(stream, request, state);
    auto res = plain_response(request, path, state);
    const bool again = res.keep_alive();
    const bool head = request.method() == http::verb::head;
    co_return co_await write_response(stream, std::move(res), head) && again;
}

} // namespace

awaitable<void> run_http_session(
    tcp::socket socket,
    runtime::relay_state& state,
    runtime::loop_context& loop,
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
        // Image URLs may come on top of the body limit; the completions door checks
        // the two apart (PROTOCOL.md section 9).
        parser.body_limit(cfg.max_http_body_bytes + cfg.max_image_bytes);
        // One deadline for the whole request, body included, and for the wait for the next
        // one on a kept-alive connection (the first one's runs from accept): a client that
        // trickles (slowloris) is cut off.
        stream.expires_at(deadline);
        if (!co_await read_request(stream, buffer, parser, cfg))
            co_return;
        auto request = parser.release();
        const auto path = path_of(request.target());

        if (websocket::is_upgrade(request) && (path == "/" || path == "/ws")) {
            auto resume = resume_from_query(request.target());
            connection_slot slot(state.connections);
            if (!co_await accept_upgrade(stream, request, resume, state, slot))
                co_return;
            const auto& ip = slot.ip();
            // The WebSocket has its own timeouts from here on (BOOST_NOTES section 5).
            stream.expires_never();
            auto conn = std::make_shared<ws::connection>(stream.release_socket(), state, loop);
            auto& c = *conn;
            // This frame (parser, read buffer, the loop's locals) is done with: the
            // connection gets a coroutine of its own, so an idle WebSocket holds only the
            // state it needs (memory per open session).
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
            // The connection gives its slot back when it ends, however it ends.
            slot.hand_over();
            net::co_spawn(
                co_await net::this_coro::executor, std::move(serving), log::connection_failure
            );
            co_return;
        }

        if (!co_await answer_request(stream, buffer, request, state, loop)) {
            error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            co_return;
        }
    }
}

} // namespace tokenrelay::http_server
