#pragma once
// Keep-alive HTTP/1.1 connections to one upstream endpoint (PROTOCOL.md section 6:
// "Connections are kept alive and reused"). A pool belongs to one event loop: the relay
// runs one single-threaded io_context per thread, so there are no locks here, and a pool
// must never be shared between threads.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/upstream/endpoint.hpp>
#include <tokenrelay/upstream/tls_socket_stream.hpp>
#include <tokenrelay/upstream/tls_transport.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>

namespace tokenrelay::upstream {

#if TOKENRELAY_DIRECT_TLS
using tls_stream = tls_socket_stream;
#else
using tls_stream = ssl::stream<tls_transport>;
#endif

/// One connection, plain or TLS, with the read buffer that belongs to it (bytes read
/// past one response would belong to the next).
class connection
{
public:
    explicit connection(beast::tcp_stream plain);
    connection(beast::tcp_stream plain, ssl::context& tls);
    /// Counted in metrics::global().upstream_connections for its whole life.
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// The socket, for closing and for a read_watchdog.
    tcp::socket& socket() noexcept;
    /// A deadline for the operations to come, as beast::tcp_stream's: past it they fail
    /// with beast::error::timeout.
    void expires_at(std::chrono::steady_clock::time_point deadline);
    void expires_never();
    /// Exactly one of these is non-null.
    beast::tcp_stream* plain() noexcept { return plain_ ? &*plain_ : nullptr; }
    tls_stream* tls() noexcept { return tls_ ? &*tls_ : nullptr; }
    /// What an ssl::stream connection reads through (its reads drain inside a
    /// drain_scope); null for the others, whose body reads drain by themselves.
    tls_transport* transport() noexcept;

    beast::flat_buffer& buffer() noexcept { return buffer_; }

    /// Whether a response has already been read to the end on this connection: a
    /// reused connection may have been closed by the peer while idle.
    bool reused() const noexcept { return uses_ > 0; }
    void count_use() noexcept { ++uses_; }

    std::chrono::steady_clock::time_point idle_since() const noexcept { return idle_since_; }
    void mark_idle(std::chrono::steady_clock::time_point now) noexcept { idle_since_ = now; }

private:
    std::optional<beast::tcp_stream> plain_;
    std::optional<tls_stream> tls_;
    // Bounded so a peer cannot grow it without limit; Beast's header limit is 8 KiB.
    beast::flat_buffer buffer_{64 * 1024};
    std::size_t uses_ = 0;
    std::chrono::steady_clock::time_point idle_since_{};
};

struct pool_options
{
    std::size_t max_idle = 1024;
    std::chrono::milliseconds idle_timeout{60000};
    std::chrono::milliseconds connect_timeout{10000};
};

enum class connect_stage { resolve, connect, tls_handshake };

struct connect_result
{
    std::unique_ptr<connection> conn; // set on success
    error_code ec;                    // beast::error::timeout when the deadline passed
    connect_stage stage = connect_stage::connect;
};

class connection_pool
{
public:
    /// `tls` may be null for an http:// endpoint.
    connection_pool(
        net::any_io_executor executor,
        endpoint target,
        std::shared_ptr<ssl::context> tls,
        pool_options options = {}
    );

    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;
    ~connection_pool();

    /// The most recently used idle connection that still looks open, or null. Idle
    /// connections past the idle timeout, closed by the peer or holding unread bytes
    /// are closed here.
    std::unique_ptr<connection> take_idle();

    /// A new connection: resolve, TCP connect and, for https, the TLS handshake with SNI
    /// and host name verification, all before min(now + connect_timeout, not_after).
    /// Supports terminal cancellation (the half-made connection is closed).
    awaitable<connect_result> connect(std::chrono::steady_clock::time_point not_after);

    /// Takes back a connection whose response was read to the end and which the server
    /// keeps alive. Anything else must simply be destroyed, which closes it.
    void release(std::unique_ptr<connection> conn);

    std::size_t idle_count() const noexcept { return idle_.size(); }
    const endpoint& target() const noexcept { return target_; }

private:
    void drop_expired(std::chrono::steady_clock::time_point now);
    /// Every removal from `idle_` goes through here, so the idle gauge stays exact.
    std::unique_ptr<connection> pop_idle(bool oldest);

    net::any_io_executor executor_;
    endpoint target_;
    std::shared_ptr<ssl::context> tls_;
    pool_options options_;
    std::deque<std::unique_ptr<connection>> idle_; // oldest first
};

} // namespace tokenrelay::upstream
