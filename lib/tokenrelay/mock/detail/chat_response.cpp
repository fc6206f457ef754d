#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/mock/detail/connection.hpp>
#include <tokenrelay/mock/directives.hpp>
#include <tokenrelay/mock/stream_writer.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <variant>

namespace tokenrelay::mock::detail {
namespace {

using namespace net::experimental::awaitable_operators;

// Zero-delay events are written together up to this size; each stays its own HTTP chunk.
constexpr std::size_t write_batch_bytes = 64 * 1024;

constexpr std::string_view json_type = "application/json";

// Counts the response as open until it is finished; one that never reaches `finish` (the
// coroutine was destroyed) counts as aborted, unless the server is shutting down.
class open_response
{
public:
    explicit open_response(server_state& st) : st_(st), ticket_(st.counters.start_response()) {}
    open_response(const open_response&) = delete;
    open_response& operator=(const open_response&) = delete;
    ~open_response()
    {
        if (!st_.stopping)
            st_.counters.finish_response(ticket_, stats::outcome::aborted);
    }

    void finish(stats::outcome o) { st_.counters.finish_response(ticket_, o); }

private:
    server_state& st_;
    stats::response_ticket ticket_;
};

std::string error_body(std::string message, std::optional<std::string_view> type)
{
    boost::json::object err;
    err["message"] = std::move(message);
    if (type)
        err["type"] = *type;
    boost::json::object o;
    o["error"] = std::move(err);
    return boost::json::serialize(o);
}

std::string stream_head(bool keep_alive, bool chunked)
{
    std::string h = "HTTP/1.1 200 OK\r\n"
                    "Server: mock_upstream\r\n"
                    "Content-Type: text/event-stream\r\n"
                    "Cache-Control: no-cache\r\n";
    if (chunked)
        h += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive)
        h += "Connection: close\r\n";
    h += "\r\n";
    return h;
}

std::int64_t now_unix_micros() noexcept
{
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

template <class Stream> awaitable<bool> write_all(Stream& s, std::string_view data)
{
    if (data.empty())
        co_return true;
    auto [ec, n] = co_await net::async_write(s, net::buffer(data), use_tuple);
    co_return !ec;
}

enum class body_result { complete, disconnect, failed };

template <class Stream>
awaitable<body_result> send_body(Stream& s, std::string out, stream_writer& w, bool bytewise)
{
    net::steady_timer timer(co_await net::this_coro::executor);
    while (auto piece = w.next()) {
        if (piece->delay.count() > 0 || bytewise) {
            if (const bool written = co_await write_all(s, out); !written)
                co_return body_result::failed;
            out.clear();
        }
        if (piece->delay.count() > 0) {
            timer.expires_after(piece->delay);
            if (auto [ec] = co_await timer.async_wait(use_tuple); ec)
                co_return body_result::failed;
        }
        // `mock:stamp`: the send time is taken once the token's delay is over.
        fill_stamp(*piece, now_unix_micros());
        if (bytewise) {
            // Every byte its own chunk and its own write: parsers must cope with any split.
            for (char c : piece->bytes) {
                std::string one;
                append_http_chunk(one, std::string_view(&c, 1));
                if (const bool written = co_await write_all(s, one); !written)
                    co_return body_result::failed;
            }
            continue;
        }
        append_http_chunk(out, piece->bytes);
        if (out.size() >= write_batch_bytes) {
            if (const bool written = co_await write_all(s, out); !written)
                co_return body_result::failed;
            out.clear();
        }
    }

    switch (w.end()) {
    case stream_end::complete:
        if (bytewise) {
            if (const bool written = co_await write_all(s, out); !written)
                co_return body_result::failed;
            out.clear();
        }
        out += last_http_chunk;
        co_return co_await write_all(s, out) ? body_result::complete : body_result::failed;
    case stream_end::disconnect:
        co_return co_await write_all(s, out) ? body_result::disconnect : body_result::failed;
    case stream_end::stall:
        break;
    }
    if (const bool written = co_await write_all(s, out); !written)
        co_return body_result::failed;
    // Stalled: hold the connection until the peer closes it, which the watcher reports.
    timer.expires_at(net::steady_timer::time_point::max());
    co_await timer.async_wait(use_tuple);
    co_return body_result::failed;
}

template <class Stream>
awaitable<after_response> send_nonewline(Stream& s, std::size_t bytes, open_response& open)
{
    if (const bool written = co_await write_all(s, stream_head(false, false)); !written) {
        open.finish(stats::outcome::aborted);
        co_return after_response::abort;
    }
    const std::string block(std::min<std::size_t>(bytes, write_batch_bytes), 'a');
    for (std::size_t left = bytes; left > 0;) {
        const auto n = std::min(left, block.size());
        if (const bool written = co_await write_all(s, std::string_view(block).substr(0, n));
            !written) {
            open.finish(stats::outcome::aborted);
            co_return after_response::abort;
        }
        left -= n;
    }
    // The body is delimited by the end of the connection (RFC 9112 section 6.3, rule 8).
    open.finish(stats::outcome::completed);
    co_return after_response::close;
}

} // namespace

template <class Stream>
awaitable<after_response>
respond_chat(Stream& s, beast::flat_buffer& buf, const request& req, server_state& st)
{
    boost::system::error_code ec;
    auto body = boost::json::parse(req.body(), ec);
    const auto id = st.counters.on_request(
        std::string(req[http::field::authorization]),
        ec ? boost::json::value(boost::json::string(req.body())) : body
    );
    open_response open(st);
    const bool keep_alive = req.keep_alive();
    const auto next = keep_alive ? after_response::keep_alive : after_response::close;

    auto answer = [&](unsigned status, std::string text, std::optional<std::size_t> retry_after
                  ) -> awaitable<after_response> {
        if (const bool written = co_await write_simple(
                s, status, std::move(text), json_type, keep_alive, retry_after
            );
            !written) {
            open.finish(stats::outcome::aborted);
            co_return after_response::abort;
        }
        open.finish(stats::outcome::completed);
        co_return next;
    };

    auto input = ec ? std::nullopt : parse_chat_input(body);
    if (!input)
        co_return co_await answer(
            400,
            error_body("mock: the body is not a chat-completions request", "invalid_request_error"),
            std::nullopt
        );

    plan defaults;
    defaults.interval = st.token_interval;
    plan p = parse_directives(input->last_content, std::move(defaults));
    for (const auto& word : p.ignored)
        log::warn("mock_directive_ignored", {{"word", word}});

    if (p.never_answer) {
        co_await watch_peer_close(s, buf);
        open.finish(stats::outcome::aborted);
        co_return after_response::abort;
    }
    if (p.echo_auth_error)
        co_return co_await answer(
            401,
            error_body("invalid key " + std::string(req[http::field::authorization]), std::nullopt),
            std::nullopt
        );
    if (p.fail_first && st.counters.should_fail(input->last_content, *p.fail_first))
        co_return co_await answer(
            p.fail_status,
            error_body("mock failure " + std::to_string(p.fail_status), "mock_error"),
            p.retry_after
        );
    if (p.status)
        co_return co_await answer(
            *p.status,
            error_body("mock failure " + std::to_string(*p.status), "mock_error"),
            std::nullopt
        );
    if (p.nonewline)
        co_return co_await send_nonewline(s, *p.nonewline, open);

    const auto created = now_ms() / 1000;
    const bool bytewise = p.bytewise;
    stream_writer writer(std::move(p), std::move(*input), id, created);
    auto result = co_await (
        send_body(s, stream_head(keep_alive, true), writer, bytewise) || watch_peer_close(s, buf)
    );
    if (result.index() == 1) {
        open.finish(stats::outcome::aborted);
        co_return after_response::abort;
    }
    switch (std::get<0>(result)) {
    case body_result::complete:
        open.finish(stats::outcome::completed);
        co_return next;
    case body_result::disconnect:
        // The mock finished what it meant to send; cutting the connection was the plan.
        open.finish(stats::outcome::completed);
        co_return after_response::abort;
    case body_result::failed:
        break;
    }
    open.finish(stats::outcome::aborted);
    co_return after_response::abort;
}

template awaitable<after_response>
respond_chat<plain_stream>(plain_stream&, beast::flat_buffer&, const request&, server_state&);
template awaitable<after_response>
respond_chat<tls_stream>(tls_stream&, beast::flat_buffer&, const request&, server_state&);

} // namespace tokenrelay::mock::detail
