#include "support/http_client.hpp"

#include "support/run_coro.hpp"
#include "support/time_scale.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>

namespace tokenrelay::test {

namespace {

using namespace net::experimental::awaitable_operators;

http_result to_result(http::response<http::string_body>&& res)
{
    http_result r;
    r.status = res.result_int();
    r.body = std::move(res.body());
    r.headers = std::move(res.base());
    return r;
}

template <class Stream>
awaitable<http_result> exchange(Stream& stream, http::request<http::string_body> req)
{
    co_await http::async_write(stream, req, net::use_awaitable);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    // A HEAD-less client: 304/204 have no body, which the parser knows from the status.
    co_await http::async_read(stream, buf, parser, net::use_awaitable);
    co_return to_result(parser.release());
}

awaitable<http_result>
do_request(std::uint16_t port, http::request<http::string_body> req, ssl::context* tls)
{
    auto ex = co_await net::this_coro::executor;
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    if (!tls) {
        beast::tcp_stream stream(ex);
        co_await stream.async_connect(ep, net::use_awaitable);
        co_return co_await exchange(stream, std::move(req));
    }
    ssl::stream<beast::tcp_stream> stream(ex, *tls);
    co_await beast::get_lowest_layer(stream).async_connect(ep, net::use_awaitable);
    co_await stream.async_handshake(ssl::stream_base::client, net::use_awaitable);
    co_return co_await exchange(stream, std::move(req));
}

awaitable<void> write_raw(tcp::socket& sock, std::string raw)
{
    // The server may answer and close before taking every byte (413, 400); a failed write
    // is then expected and the response is what counts.
    co_await net::async_write(sock, net::buffer(raw), use_tuple);
}

awaitable<http_result> read_response(tcp::socket& sock)
{
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    co_await http::async_read(sock, buf, parser, net::use_awaitable);
    co_return to_result(parser.release());
}

awaitable<http_result> do_raw(std::uint16_t port, std::string raw)
{
    tcp::socket sock(co_await net::this_coro::executor);
    co_await sock.async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port), net::use_awaitable
    );
    co_return co_await (read_response(sock) && write_raw(sock, std::move(raw)));
}

bool is_close(const error_code& ec)
{
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset;
}

/// Keeps what arrives in `out.rest` until the peer closes.
awaitable<void> read_to_close(tcp::socket& sock, raw_exchange& out)
{
    char chunk[4096];
    for (;;) {
        auto [ec, n] = co_await sock.async_read_some(net::buffer(chunk), use_tuple);
        out.rest.append(chunk, n);
        if (ec) {
            out.closed = is_close(ec);
            co_return;
        }
    }
}

awaitable<void> read_answers(
    tcp::socket& sock,
    std::vector<http::verb> methods,
    std::chrono::milliseconds linger,
    raw_exchange& out
)
{
    beast::flat_buffer buf;
    for (const auto method : methods) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        parser.skip(method == http::verb::head);
        auto [ec, n] = co_await http::async_read(sock, buf, parser, use_tuple);
        if (ec) {
            out.closed = is_close(ec);
            break;
        }
        out.responses.push_back(to_result(parser.release()));
    }
    out.rest = beast::buffers_to_string(buf.data());
    if (out.closed)
        co_return;
    net::steady_timer timer(co_await net::this_coro::executor, linger);
    co_await (read_to_close(sock, out) || timer.async_wait(use_tuple));
}

awaitable<raw_exchange> do_raw_exchange(
    std::uint16_t port,
    std::string raw,
    std::vector<http::verb> methods,
    std::chrono::milliseconds linger
)
{
    tcp::socket sock(co_await net::this_coro::executor);
    co_await sock.async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port), net::use_awaitable
    );
    raw_exchange out;
    co_await (
        read_answers(sock, std::move(methods), linger, out) && write_raw(sock, std::move(raw))
    );
    co_return out;
}

} // namespace

std::string http_result::header(std::string_view name) const
{
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : std::string(it->value());
}

http_result http_request(
    std::uint16_t port,
    http::verb method,
    std::string_view target,
    const header_list& headers,
    std::string body,
    const http_options& options
)
{
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.set(http::field::user_agent, "tokenrelay-test");
    for (const auto& [k, v] : headers)
        req.set(k, v);
    if (!body.empty() || method == http::verb::post || method == http::verb::put) {
        req.body() = std::move(body);
        req.prepare_payload();
    }
    net::io_context ioc;
    return run_coro(ioc, do_request(port, std::move(req), options.tls), scaled(options.timeout));
}

http_result http_raw(std::uint16_t port, std::string raw, std::chrono::milliseconds timeout)
{
    net::io_context ioc;
    return run_coro(ioc, do_raw(port, std::move(raw)), scaled(timeout));
}

raw_exchange http_raw_exchange(
    std::uint16_t port,
    std::string raw,
    std::vector<http::verb> methods,
    std::chrono::milliseconds linger,
    std::chrono::milliseconds timeout
)
{
    net::io_context ioc;
    return run_coro(
        ioc,
        do_raw_exchange(port, std::move(raw), std::move(methods), scaled(linger)),
        scaled(timeout) + scaled(linger)
    );
}

bool becomes_unready(std::uint16_t port, std::chrono::milliseconds within)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(within);
    do {
        const auto r = http_get(port, "/readyz", {}, {.timeout = std::chrono::milliseconds(1000)});
        if (r.status == 503u)
            return true;
        BOOST_TEST_REQUIRE(r.status == 200u);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

} // namespace tokenrelay::test
