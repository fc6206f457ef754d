#include <tokenrelay/core/log.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <charconv>
#include <exception>
#include <stdexcept>
#include <testing/mock/detail/anthropic_response.hpp>
#include <testing/mock/detail/connection.hpp>
#include <testing/mock/server.hpp>
#include <tuple>

namespace tokenrelay::mock {
namespace {

using namespace net::experimental::awaitable_operators;
using detail::after_response;
using detail::plain_stream;
using detail::request;
using detail::server_state;
using detail::tls_stream;

// The contract allows bodies of a few MiB (`mock:echo` of long conversations); the relay
// itself caps client bodies at 1 MiB (PROTOCOL.md section 1).
constexpr std::uint64_t max_body_bytes = 8 * 1024 * 1024;
constexpr auto handshake_timeout = std::chrono::seconds(10);
constexpr auto tls_shutdown_timeout = std::chrono::seconds(2);
constexpr auto default_wait = std::chrono::milliseconds(10000);
constexpr std::string_view json_type = "application/json";
constexpr std::string_view text_type = "text/plain";

std::optional<std::string_view> query_param(std::string_view query, std::string_view key)
{
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == key)
            return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view s)
{
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

awaitable<void> sleep_for(std::chrono::steady_clock::duration d)
{
    net::steady_timer timer(co_await net::this_coro::executor, d);
    co_await timer.async_wait(use_tuple);
}

// True once counter `c` reaches `n`, false at the deadline or when cancelled.
awaitable<bool>
wait_for_counter(server_state& st, counter c, std::int64_t n, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    net::steady_timer timer(co_await net::this_coro::executor);
    const auto handle = st.counters.add_waiter([&timer] { timer.cancel(); });
    struct remove_waiter
    {
        stats& s;
        stats::waiter_list::iterator it;
        ~remove_waiter() { s.remove_waiter(it); }
    } guard{st.counters, handle};

    for (;;) {
        if (st.counters.value(c) >= n)
            co_return true;
        if (std::chrono::steady_clock::now() >= deadline)
            co_return false;
        timer.expires_at(deadline);
        co_await timer.async_wait(use_tuple);
        auto cs = co_await net::this_coro::cancellation_state;
        if (is_cancelled(cs))
            co_return false;
    }
}

template <class Stream>
awaitable<after_response> respond_wait(
    Stream& s, beast::flat_buffer& buf, const request& req, server_state& st, std::string_view query
)
{
    const bool keep_alive = req.keep_alive();
    const auto field = query_param(query, "field");
    const auto c = field ? counter_from_name(*field) : std::nullopt;
    const auto atleast = parse_int(query_param(query, "atleast").value_or("1"));
    const auto timeout = query_param(query, "timeout_ms");
    const auto timeout_ms = timeout ? parse_int(*timeout) : default_wait.count();
    if (!c || !atleast || !timeout_ms || *timeout_ms < 0) {
        const bool ok = co_await detail::write_simple(
            s,
            400,
            R"({"error":"expected field=requests|open|completed|aborted&atleast=N&timeout_ms=T"})",
            json_type,
            keep_alive
        );
        co_return ok&& keep_alive ? after_response::keep_alive : after_response::abort;
    }

    // Also watch the socket, so a waiter whose client gave up does not linger.
    auto r = co_await (
        wait_for_counter(st, *c, *atleast, std::chrono::milliseconds(*timeout_ms)) ||
        detail::watch_peer_close(s, buf)
    );
    if (r.index() == 1)
        co_return after_response::abort;
    const bool ok = co_await detail::write_simple(
        s, std::get<0>(r) ? 200 : 408, st.counters.to_json(), json_type, keep_alive
    );
    co_return ok&& keep_alive ? after_response::keep_alive : after_response::abort;
}

template <class Stream>
awaitable<after_response>
route(Stream& s, beast::flat_buffer& buf, const request& req, server_state& st)
{
    const std::string_view target = req.target();
    const auto q = target.find('?');
    const auto path = target.substr(0, q);
    const auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    const bool keep_alive = req.keep_alive();

    unsigned status = 404;
    std::string body = "not found\n";
    auto type = text_type;
    if (path.ends_with("/chat/completions")) {
        if (req.method() == http::verb::post)
            co_return co_await detail::respond_chat(s, buf, req, st);
        status = 405;
        body = "method not allowed\n";
    } else if (path.ends_with("/messages")) {
        // Anthropic Messages API mode (docs/mock_upstream.md).
        if (req.method() == http::verb::post)
            co_return co_await detail::respond_messages(s, buf, req, st);
        status = 405;
        body = "method not allowed\n";
    } else if (path == "/_mock/stats" && req.method() == http::verb::get) {
        status = 200;
        body = st.counters.to_json();
        type = json_type;
    } else if (path == "/_mock/last_body" && req.method() == http::verb::get) {
        status = 200;
        body = st.counters.last_raw_body().value_or("{}");
        type = json_type;
    } else if (path == "/_mock/wait" && req.method() == http::verb::get) {
        co_return co_await respond_wait(s, buf, req, st, query);
    } else if (path == "/_mock/reset" && req.method() == http::verb::post) {
        st.counters.reset();
        status = 200;
        body = "{}";
        type = json_type;
    }
    const bool ok = co_await detail::write_simple(s, status, std::move(body), type, keep_alive);
    co_return ok&& keep_alive ? after_response::keep_alive : after_response::abort;
}

template <class Stream> awaitable<after_response> serve_requests(Stream& s, server_state& st)
{
    beast::flat_buffer buf;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body_bytes);
        auto [ec, n] = co_await http::async_read_header(s, buf, parser, use_tuple);
        if (!ec && !parser.is_done() &&
            beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            // curl waits a second for this before sending a body over 1 KiB (RFC 9110 10.1.1).
            static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
            std::tie(ec, n) = co_await net::async_write(s, net::buffer(go_on), use_tuple);
        }
        if (!ec && !parser.is_done())
            std::tie(ec, n) = co_await http::async_read(s, buf, parser, use_tuple);
        if (ec == http::error::body_limit) {
            co_await detail::write_simple(s, 413, "body too large\n", text_type, false);
            co_return after_response::close;
        }
        if (ec && ec != http::error::end_of_stream && ec != http::error::partial_message &&
            ec.category() == http::make_error_code(http::error::bad_target).category()) {
            co_await detail::write_simple(s, 400, "bad request\n", text_type, false);
            co_return after_response::close;
        }
        if (ec)
            co_return after_response::abort;
        const auto next = co_await route(s, buf, parser.get(), st);
        if (next != after_response::keep_alive)
            co_return next;
    }
}

awaitable<void> run_plain(tcp::socket sock, std::shared_ptr<server_state> st)
{
    const auto how = co_await serve_requests(sock, *st);
    error_code ec;
    if (how == after_response::close)
        sock.shutdown(tcp::socket::shutdown_send, ec);
    sock.close(ec);
}

awaitable<error_code> handshake(tls_stream& s)
{
    auto [ec] = co_await s.async_handshake(ssl::stream_base::server, use_tuple);
    co_return ec;
}

awaitable<void> shutdown_tls(tls_stream& s)
{
    // Fails with stream_truncated when the peer closes without close_notify: nothing to do.
    co_await s.async_shutdown(use_tuple);
}

awaitable<void> run_tls(tcp::socket sock, std::shared_ptr<server_state> st)
{
    tls_stream s(std::move(sock), *st->tls);
    auto hs = co_await (handshake(s) || sleep_for(handshake_timeout));
    if (hs.index() == 0 && !std::get<0>(hs)) {
        const auto how = co_await serve_requests(s, *st);
        if (how == after_response::close)
            co_await (shutdown_tls(s) || sleep_for(tls_shutdown_timeout));
    }
    error_code ec;
    s.next_layer().close(ec);
}

void log_escaped(std::exception_ptr e)
{
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        log::warn("mock_connection_failed", {{"error", x.what()}});
    }
}

awaitable<void> accept_loop(std::shared_ptr<server_state> st)
{
    auto ex = co_await net::this_coro::executor;
    for (;;) {
        auto [ec, sock] = co_await st->acceptor.async_accept(use_tuple);
        if (ec) {
            if (ec == net::error::operation_aborted || !st->acceptor.is_open())
                co_return;
            // Out of descriptors and the like: back off instead of spinning.
            log::warn("mock_accept_failed", {{"error", ec.message()}});
            co_await sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        // Small writes (one token, one byte in bytewise mode) must leave at once.
        sock.set_option(tcp::no_delay(true), ec);
        if (st->tls)
            net::co_spawn(ex, run_tls(std::move(sock), st), log_escaped);
        else
            net::co_spawn(ex, run_plain(std::move(sock), st), log_escaped);
    }
}

} // namespace

server::server(net::any_io_executor ex, const server_config& cfg)
    : state_(std::make_shared<server_state>(ex))
{
    state_->token_interval = cfg.token_interval;
    if (!cfg.tls_cert.empty()) {
        auto& tls = state_->tls.emplace(ssl::context::tls_server);
        tls.set_options(
            ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3
        );
        try {
            tls.use_certificate_chain_file(cfg.tls_cert);
            tls.use_private_key_file(cfg.tls_key, ssl::context::pem);
        } catch (const boost::system::system_error& e) {
            throw std::invalid_argument(
                "--tls-cert/--tls-key: " + cfg.tls_cert + ", " + cfg.tls_key + ": " +
                e.code().message()
            );
        }
    }
    auto& acc = state_->acceptor;
    acc.open(cfg.listen.protocol());
    acc.set_option(net::socket_base::reuse_address(true));
    acc.bind(cfg.listen);
    acc.listen(net::socket_base::max_listen_connections);
}

server::~server() = default;

tcp::endpoint server::local_endpoint() const
{
    return state_->acceptor.local_endpoint();
}

void server::start()
{
    net::co_spawn(state_->acceptor.get_executor(), accept_loop(state_), log_escaped);
}

void server::stop()
{
    state_->stopping = true;
    error_code ec;
    state_->acceptor.close(ec);
}

} // namespace tokenrelay::mock
