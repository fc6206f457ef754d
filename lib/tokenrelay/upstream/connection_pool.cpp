#include <tokenrelay/core/draining_read_buffer.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/upstream/connection_pool.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <string>
#include <sys/socket.h>

namespace tokenrelay::upstream {
namespace {

using clock = std::chrono::steady_clock;

// An idle HTTP/1.1 connection has nothing to say until it is asked something (RFC 9112
// section 9.8): a peek that finds an orderly close, an error or stray bytes (a TLS
// close_notify, an unsolicited response) means it cannot carry the next request.
bool looks_reusable(tcp::socket& socket)
{
    if (!socket.is_open())
        return false;
    char byte = 0;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct resolved
{
    error_code ec;
    tcp::resolver::results_type results;
};

// getaddrinfo cannot be interrupted, and Asio's resolver has no per-operation
// cancellation: both the deadline and the caller's cancellation call resolver.cancel(),
// which aborts the lookup if it has not started yet and otherwise discards its result.
awaitable<resolved> resolve(
    net::any_io_executor executor,
    const std::string& host,
    std::uint16_t port,
    clock::time_point deadline
)
{
    auto resolver = std::make_shared<tcp::resolver>(executor);
    std::weak_ptr<tcp::resolver> weak = resolver;
    net::steady_timer timer(executor);
    timer.expires_at(deadline);
    timer.async_wait([weak](error_code ec) {
        if (!ec)
            if (auto r = weak.lock())
                r->cancel();
    });
    auto slot = (co_await net::this_coro::cancellation_state).slot();
    if (slot.is_connected())
        slot.assign([weak](net::cancellation_type) {
            if (auto r = weak.lock())
                r->cancel();
        });
    auto [ec, results] = co_await resolver->async_resolve(host, std::to_string(port), use_tuple);
    timer.cancel();
    if (ec == net::error::operation_aborted && clock::now() >= deadline)
        ec = beast::error::timeout;
    co_return resolved{ec, std::move(results)};
}

} // namespace

connection::connection(beast::tcp_stream plain) : plain_(std::move(plain))
{
    metrics::global().upstream_connections.fetch_add(1, std::memory_order_relaxed);
}

#if TOKENRELAY_DIRECT_TLS
connection::connection(beast::tcp_stream plain, ssl::context& tls)
    : tls_(std::in_place, plain.release_socket(), tls)
#else
connection::connection(beast::tcp_stream plain, ssl::context& tls)
    : tls_(std::in_place, std::move(plain), tls)
#endif
{
    metrics::global().upstream_connections.fetch_add(1, std::memory_order_relaxed);
}

connection::~connection()
{
    metrics::global().upstream_connections.fetch_sub(1, std::memory_order_relaxed);
}

namespace {

// What holds a TLS connection's socket and deadline: the stream itself, or the TCP stream
// under ssl::stream. Both have socket(), expires_at() and expires_never().
#if TOKENRELAY_DIRECT_TLS
tls_socket_stream& timed_layer(tls_stream& tls)
{
    return tls;
}
#else
beast::tcp_stream& timed_layer(tls_stream& tls)
{
    return tls.next_layer().next_layer();
}
#endif

} // namespace

tcp::socket& connection::socket() noexcept
{
    return plain_ ? plain_->socket() : timed_layer(*tls_).socket();
}

void connection::expires_at(clock::time_point deadline)
{
    if (plain_)
        plain_->expires_at(deadline);
    else
        timed_layer(*tls_).expires_at(deadline);
}

void connection::expires_never()
{
    if (plain_)
        plain_->expires_never();
    else
        timed_layer(*tls_).expires_never();
}

tls_transport* connection::transport() noexcept
{
#if TOKENRELAY_DIRECT_TLS
    return nullptr;
#else
    return tls_ ? &tls_->next_layer() : nullptr;
#endif
}

connection_pool::connection_pool(
    net::any_io_executor executor,
    endpoint target,
    std::shared_ptr<ssl::context> tls,
    pool_options options
)
    : executor_(std::move(executor)), target_(std::move(target)), tls_(std::move(tls)),
      options_(options)
{}

connection_pool::~connection_pool()
{
    while (!idle_.empty())
        pop_idle(true);
}

std::unique_ptr<connection> connection_pool::pop_idle(bool oldest)
{
    auto conn = std::move(oldest ? idle_.front() : idle_.back());
    if (oldest)
        idle_.pop_front();
    else
        idle_.pop_back();
    metrics::global().upstream_idle_connections.fetch_sub(1, std::memory_order_relaxed);
    return conn;
}

void connection_pool::drop_expired(clock::time_point now)
{
    while (!idle_.empty() && now - idle_.front()->idle_since() >= options_.idle_timeout)
        pop_idle(true);
}

std::unique_ptr<connection> connection_pool::take_idle()
{
    drop_expired(clock::now());
    while (!idle_.empty()) {
        auto conn = pop_idle(false);
        if (looks_reusable(conn->socket()))
            return conn;
    }
    return nullptr;
}

void connection_pool::release(std::unique_ptr<connection> conn)
{
    if (!conn || options_.max_idle == 0 || conn->buffer().size() != 0)
        return;
    const auto now = clock::now();
    drop_expired(now);
    if (idle_.size() >= options_.max_idle)
        pop_idle(true);
    conn->expires_never();
    conn->mark_idle(now);
    idle_.push_back(std::move(conn));
    metrics::global().upstream_idle_connections.fetch_add(1, std::memory_order_relaxed);
}

awaitable<connect_result> connection_pool::connect(clock::time_point not_after)
{
    const auto deadline = std::min(clock::now() + options_.connect_timeout, not_after);
    connect_result out;

    beast::tcp_stream stream(executor_);
    stream.expires_at(deadline);
    error_code ip_ec;
    const auto address = net::ip::make_address(target_.host, ip_ec);
    if (!ip_ec) {
        auto [ec] = co_await stream.async_connect(tcp::endpoint(address, target_.port), use_tuple);
        out.ec = ec;
    } else {
        auto r = co_await resolve(executor_, target_.host, target_.port, deadline);
        if (r.ec) {
            out.ec = r.ec;
            out.stage = connect_stage::resolve;
            co_return out;
        }
        auto [ec, ep] = co_await stream.async_connect(r.results, use_tuple);
        out.ec = ec;
    }
    if (out.ec)
        co_return out;
    // The request goes out in one write; there is nothing for Nagle to coalesce.
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);

    // Body reads drain (draining_read_buffer, tls_transport): with this hint a read that
    // takes the last byte saves the next one's empty try. Without it reads still work.
    report_unread_bytes(stream.socket(), ignored);
    if (!target_.tls) {
        out.conn = std::make_unique<connection>(std::move(stream));
        out.conn->expires_never();
        co_return out;
    }

    out.stage = connect_stage::tls_handshake;
    if (!tls_) {
        out.ec = net::error::no_protocol_option;
        co_return out;
    }
    auto conn = std::make_unique<connection>(std::move(stream), *tls_);
    auto& tls = *conn->tls();
    // SNI carries host names only (RFC 6066 section 3); an IP literal is verified
    // against the certificate's IP addresses instead.
    if (!target_.host_is_ip() &&
        !SSL_set_tlsext_host_name(tls.native_handle(), target_.host.c_str())) {
        out.ec = error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
        co_return out;
    }
    // The certificate must name the host: its DNS names, or its IP addresses for an IP
    // literal (as ssl::host_name_verification checks, here for either kind of stream).
    auto* param = SSL_get0_param(tls.native_handle());
    const int named = target_.host_is_ip()
                          ? X509_VERIFY_PARAM_set1_ip_asc(param, target_.host.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, target_.host.c_str(), 0);
    if (named != 1) {
        out.ec = error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
        co_return out;
    }
    conn->expires_at(deadline);
#if TOKENRELAY_DIRECT_TLS
    auto [ec, ignored_bytes] = co_await tls.async_handshake(use_tuple);
#else
    auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
#endif
    if (ec) {
        out.ec = ec;
        co_return out;
    }
    conn->expires_never();
    out.conn = std::move(conn);
    co_return out;
}

} // namespace tokenrelay::upstream
