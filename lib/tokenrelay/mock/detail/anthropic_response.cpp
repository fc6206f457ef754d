// Kept apart from chat_response.cpp so the OpenAI mode's bytes and code stay as they are;
// the few I/O helpers repeated here are small.
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/mock/anthropic_writer.hpp>
#include <tokenrelay/mock/detail/anthropic_response.hpp>
#include <tokenrelay/mock/directives.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json/parse.hpp>

#include <variant>

namespace tokenrelay::mock::detail {
namespace {

using namespace net::experimental::awaitable_operators;

constexpr std::size_t write_batch_bytes = 64 * 1024;
constexpr std::string_view json_type = "application/json";

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

std::string stream_head(bool keep_alive)
{
    std::string h = "HTTP/1.1 200 OK\r\n"
                    "Server: mock_upstream\r\n"
                    "Content-Type: text/event-stream\r\n"
                    "Cache-Control: no-cache\r\n"
                    "Transfer-Encoding: chunked\r\n";
    if (!keep_alive)
        h += "Connection: close\r\n";
    h += "\r\n";
    return h;
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
awaitable<body_result> send_body(Stream& s, std::string out, anthropic_writer& w, bool bytewise)
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
        if (bytewise) {
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
        out += last_http_chunk;
        co_return co_await write_all(s, out) ? body_result::complete : body_result::failed;
    case stream_end::disconnect:
        co_return co_await write_all(s, out) ? body_result::disconnect : body_result::failed;
    case stream_end::stall:
        break;
    }
    if (const bool written = co_await write_all(s, out); !written)
        co_return body_result::failed;
    timer.expires_at(net::steady_timer::time_point::max());
    co_await timer.async_wait(use_tuple);
    co_return body_result::failed;
}

} // namespace

template <class Stream>
awaitable<after_response>
respond_messages(Stream& s, beast::flat_buffer& buf, const request& req, server_state& st)
{
    boost::system::error_code ec;
    auto body = boost::json::parse(req.body(), ec);
    const auto id = st.counters.on_request(
        std::string(req[http::field::authorization]),
        ec ? boost::json::value(boost::json::string(req.body())) : body
    );
    st.counters.on_anthropic_headers(
        std::string(req["x-api-key"]), std::string(req["anthropic-version"])
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

    // The Messages API's `messages` has the same role/content shape as chat completions.
    auto input = ec ? std::nullopt : parse_chat_input(body);
    if (!input)
        co_return co_await answer(
            400, anthropic_error_body(400, "mock: the body is not a Messages API request"), {}
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
            401, anthropic_error_body(401, "invalid key " + std::string(req["x-api-key"])), {}
        );
    if (p.fail_first && st.counters.should_fail(input->last_content, *p.fail_first))
        co_return co_await answer(
            p.fail_status,
            anthropic_error_body(p.fail_status, "mock failure " + std::to_string(p.fail_status)),
            p.retry_after
        );
    if (p.status)
        co_return co_await answer(
            *p.status,
            anthropic_error_body(*p.status, "mock failure " + std::to_string(*p.status)),
            {}
        );

    const bool bytewise = p.bytewise;
    anthropic_writer writer(std::move(p), std::move(*input), id);
    auto result = co_await (
        send_body(s, stream_head(keep_alive), writer, bytewise) || watch_peer_close(s, buf)
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
        open.finish(stats::outcome::completed);
        co_return after_response::abort;
    case body_result::failed:
        break;
    }
    open.finish(stats::outcome::aborted);
    co_return after_response::abort;
}

template awaitable<after_response>
respond_messages<plain_stream>(plain_stream&, beast::flat_buffer&, const request&, server_state&);
template awaitable<after_response>
respond_messages<tls_stream>(tls_stream&, beast::flat_buffer&, const request&, server_state&);

} // namespace tokenrelay::mock::detail
