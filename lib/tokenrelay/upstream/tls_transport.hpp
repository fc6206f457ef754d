#pragma once
// What a TLS upstream connection's ssl::stream reads and writes: a beast::tcp_stream whose
// reads, while a token stream is being read, go through draining_read_buffer. The TLS
// layer reads its transport into its own buffer, so the body read's draining_read_buffer
// never reaches the socket, and each token's record cost a second recv that found
// nothing, which plain connections never cost.
//
// Only inside a drain_scope: there the read_watchdog holds the deadline. Elsewhere (the
// handshake, the response head, draining a body's rest) reads go through tcp_stream, whose
// expiry bounds them.

#include <tokenrelay/core/draining_read_buffer.hpp>
#include <tokenrelay/core/net.hpp>

#include <utility>

namespace tokenrelay::upstream {

class tls_transport
{
public:
    using executor_type = beast::tcp_stream::executor_type;

    explicit tls_transport(beast::tcp_stream stream) : stream_(std::move(stream)) {}

    executor_type get_executor() noexcept { return stream_.get_executor(); }

    /// Deadlines and closing.
    beast::tcp_stream& next_layer() noexcept { return stream_; }

    // What ssl::stream asks of its next layer.
    using lowest_layer_type = beast::tcp_stream::socket_type;
    lowest_layer_type& lowest_layer() noexcept { return stream_.socket(); }
    const lowest_layer_type& lowest_layer() const noexcept { return stream_.socket(); }

    // ssl::stream reads its transport into one buffer of its own, a single buffer.
    template <class ReadToken>
    auto async_read_some(const net::mutable_buffer& buffer, ReadToken&& token)
    {
        if (!draining_)
            return stream_.async_read_some(buffer, std::forward<ReadToken>(token));
        return stream_.socket().async_read_some(
            draining_read_buffer(buffer), std::forward<ReadToken>(token)
        );
    }

    template <class ConstBufferSequence, class WriteToken>
    auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token)
    {
        return stream_.async_write_some(buffers, std::forward<WriteToken>(token));
    }

    /// Reads drain while this lives; a null transport (a plain connection) is left alone.
    class [[nodiscard]] drain_scope
    {
    public:
        explicit drain_scope(tls_transport* t) noexcept : t_(t)
        {
            if (t_)
                t_->draining_ = true;
        }
        ~drain_scope()
        {
            if (t_)
                t_->draining_ = false;
        }
        drain_scope(const drain_scope&) = delete;
        drain_scope& operator=(const drain_scope&) = delete;

    private:
        tls_transport* t_;
    };

private:
    beast::tcp_stream stream_;
    bool draining_ = false;
};

} // namespace tokenrelay::upstream
