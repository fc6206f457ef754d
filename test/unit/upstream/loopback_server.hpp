#pragma once
// A tiny scripted HTTP/1.1 server on 127.0.0.1 for in-process upstream tests: it reads
// each request, answers with canned bytes and reports what it saw.

#include <tokenrelay/core/net.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace tokenrelay::upstream::test {

/// A count a coroutine can wait on, with a limit, without sleeping.
class counter
{
public:
    explicit counter(net::any_io_executor ex) : timer_(ex) {}

    void bump()
    {
        ++value_;
        timer_.cancel();
    }
    int value() const { return value_; }

    /// True once the count reaches `n`; false when `limit` passes first.
    awaitable<bool> wait_at_least(int n, std::chrono::milliseconds limit)
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (value_ < n) {
            if (std::chrono::steady_clock::now() >= deadline)
                co_return false;
            timer_.expires_at(deadline);
            co_await timer_.async_wait(use_tuple);
        }
        co_return true;
    }

private:
    net::steady_timer timer_;
    int value_ = 0;
};

struct served_request
{
    std::string method;
    std::string target;
    std::string host;
    std::string authorization;
    std::string content_type;
    std::string accept;
    std::string body;
    std::string server_name; // TLS SNI, when TLS
};

struct reply
{
    enum class then {
        keep_open,          // read the next request
        close,              // close the connection
        stall,              // send nothing more; wait for the client to close
        hang_up_unanswered, // close without writing anything
    };
    std::vector<std::string> writes; // written one after another, each flushed
    std::chrono::milliseconds gap{0};
    then after = then::keep_open;
};

using script = std::function<reply(const served_request&, std::size_t index)>;

class loopback_server
{
public:
    loopback_server(net::io_context& ioc, script s, ssl::context* tls = nullptr)
        : closed(ioc.get_executor()), requests_seen(ioc.get_executor()),
          acceptor_(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
          script_(std::move(s)), tls_(tls)
    {
        net::co_spawn(ioc, accept_loop(), net::detached);
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    int accepts = 0;
    std::vector<served_request> requests;
    counter closed;        // connections the client closed (or broke) while the server held them
    counter requests_seen; // requests read

private:
    awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
            if (ec)
                co_return;
            ++accepts;
            socket.set_option(tcp::no_delay(true));
            if (tls_)
                net::co_spawn(
                    acceptor_.get_executor(), serve_tls(std::move(socket)), net::detached
                );
            else
                net::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), net::detached);
        }
    }

    awaitable<void> serve_tls(tcp::socket socket)
    {
        ssl::stream<tcp::socket> s(std::move(socket), *tls_);
        auto [ec] = co_await s.async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) {
            closed.bump();
            co_return;
        }
        const char* sni = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name);
        co_await serve(s, sni ? sni : "");
    }

    awaitable<void> serve(tcp::socket socket) { co_await serve(socket, ""); }

    template <class Stream> awaitable<void> serve(Stream& s, std::string server_name)
    {
        beast::flat_buffer buffer;
        net::steady_timer pause(acceptor_.get_executor());
        for (;;) {
            http::request<http::string_body> req;
            auto [ec, n] = co_await http::async_read(s, buffer, req, use_tuple);
            if (ec) {
                closed.bump();
                co_return;
            }
            served_request seen{
                std::string(req.method_string()),
                std::string(req.target()),
                std::string(req[http::field::host]),
                std::string(req[http::field::authorization]),
                std::string(req[http::field::content_type]),
                std::string(req[http::field::accept]),
                req.body(),
                server_name};
            requests.push_back(seen);
            requests_seen.bump();
            const reply r = script_(seen, requests.size() - 1);
            if (r.after == reply::then::hang_up_unanswered) {
                beast::get_lowest_layer(s).close();
                co_return;
            }
            for (const auto& w : r.writes) {
                if (r.gap.count() > 0) {
                    pause.expires_after(r.gap);
                    co_await pause.async_wait(use_tuple);
                }
                auto [wec, wn] = co_await net::async_write(s, net::buffer(w), use_tuple);
                if (wec) {
                    closed.bump();
                    co_return;
                }
            }
            if (r.after == reply::then::close) {
                error_code ignored;
                beast::get_lowest_layer(s).shutdown(tcp::socket::shutdown_both, ignored);
                beast::get_lowest_layer(s).close();
                co_return;
            }
            if (r.after == reply::then::stall) {
                char byte = 0;
                for (;;) {
                    auto [rec, rn] = co_await s.async_read_some(net::buffer(&byte, 1), use_tuple);
                    if (rec)
                        break;
                }
                closed.bump();
                co_return;
            }
        }
    }

    tcp::acceptor acceptor_;
    script script_;
    ssl::context* tls_;
};

// ---- canned SSE bodies ---------------------------------------------------------------

inline std::string json_string(std::string_view s)
{
    return boost::json::serialize(boost::json::string(s));
}

inline std::string sse_head(std::string_view extra_headers = "")
{
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
           "chunked\r\n" +
           std::string(extra_headers) + "\r\n";
}

inline std::string chunk(std::string_view body)
{
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", body.size());
    return size + std::string(body) + "\r\n";
}

inline const std::string last_chunk = "0\r\n\r\n";

inline std::string event(std::string_view payload, std::string_view eol = "\n")
{
    return "data: " + std::string(payload) + std::string(eol) + std::string(eol);
}

inline std::string delta(std::string_view delta_json, std::string_view finish = "null")
{
    return R"({"id":"t","object":"chat.completion.chunk","choices":[{"index":0,"delta":)" +
           std::string(delta_json) + R"(,"finish_reason":)" + std::string(finish) + "}]}";
}

inline std::string content(std::string_view text)
{
    return delta(R"({"content":)" + json_string(text) + "}");
}

inline std::string finish(std::string_view reason)
{
    return delta("{}", json_string(reason));
}

inline std::string usage(int prompt, int completion)
{
    return R"({"id":"t","choices":[],"usage":{"prompt_tokens":)" + std::to_string(prompt) +
           R"(,"completion_tokens":)" + std::to_string(completion) + R"(,"total_tokens":)" +
           std::to_string(prompt + completion) + "}}";
}

/// A 200 event-stream reply: head, one chunk per event, the last chunk.
inline reply sse_reply(const std::vector<std::string>& payloads, std::string_view eol = "\n")
{
    reply r;
    r.writes.push_back(sse_head());
    for (const auto& p : payloads)
        r.writes.push_back(chunk(event(p, eol)));
    r.writes.push_back(last_chunk);
    return r;
}

inline reply error_reply(int status, std::string_view body, std::string_view extra_headers = "")
{
    reply r;
    r.writes.push_back(
        "HTTP/1.1 " + std::to_string(status) +
        " Whatever\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n" + std::string(extra_headers) + "\r\n" +
        std::string(body)
    );
    return r;
}

// ---- running coroutines with a limit -------------------------------------------------

/// Runs `body` on `ioc` until it finishes; fails the test if it does not within `limit`.
template <class Body>
void run_with_limit(
    net::io_context& ioc, Body&& body, std::chrono::milliseconds limit = std::chrono::seconds(10)
)
{
    bool done = false;
    std::exception_ptr failure;
    net::co_spawn(ioc, std::forward<Body>(body)(), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        ioc.stop();
    });
    ioc.run_for(limit);
    BOOST_TEST_REQUIRE(done, "the test coroutine did not finish in time");
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace tokenrelay::upstream::test
