#include <testing/mock/detail/connection.hpp>

namespace tokenrelay::mock::detail {
namespace {

// A client that keeps sending while it waits for an answer is not a client we serve.
constexpr std::size_t max_unread_bytes = 1024 * 1024;

} // namespace

template <class Stream>
awaitable<bool> write_simple(
    Stream& s,
    unsigned status,
    std::string body,
    std::string_view content_type,
    bool keep_alive,
    std::optional<std::size_t> retry_after
)
{
    http::response<http::string_body> res;
    res.result(status);
    res.version(11);
    res.set(http::field::server, "mock_upstream");
    res.set(http::field::content_type, content_type);
    if (retry_after)
        res.set(http::field::retry_after, std::to_string(*retry_after));
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(s, res, use_tuple);
    co_return !ec;
}

template <class Stream> awaitable<void> watch_peer_close(Stream& s, beast::flat_buffer& buf)
{
    for (;;) {
        auto [ec, n] = co_await s.async_read_some(buf.prepare(4096), use_tuple);
        if (ec)
            co_return;
        buf.commit(n);
        if (buf.size() > max_unread_bytes)
            co_return;
        // A read that completed just as the cancellation arrived: the next read would not
        // see it, so check by hand.
        auto cs = co_await net::this_coro::cancellation_state;
        if (is_cancelled(cs))
            co_return;
    }
}

template awaitable<bool> write_simple<
    plain_stream>(plain_stream&, unsigned, std::string, std::string_view, bool, std::optional<std::size_t>);
template awaitable<bool> write_simple<
    tls_stream>(tls_stream&, unsigned, std::string, std::string_view, bool, std::optional<std::size_t>);
template awaitable<void> watch_peer_close<plain_stream>(plain_stream&, beast::flat_buffer&);
template awaitable<void> watch_peer_close<tls_stream>(tls_stream&, beast::flat_buffer&);

} // namespace tokenrelay::mock::detail
