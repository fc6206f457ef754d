#pragma once
// Writing a mock response, shared by the chat-completions and Anthropic modes: the
// response head, the open/aborted accounting, the paced chunked body, and the wait before
// a whole answer.

#include <tokenrelay/core/clock.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <testing/mock/detail/connection.hpp>
#include <testing/mock/stream_writer.hpp>
#include <variant>

namespace tokenrelay::mock::detail {

// Zero-delay events are written together up to this size; each stays its own HTTP chunk.
inline constexpr std::size_t write_batch_bytes = 64 * 1024;

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

/// The 200 head of an event stream.
std::string stream_head(bool keep_alive, bool chunked);

template <class Stream> awaitable<bool> write_all(Stream& s, std::string_view data)
{
    if (data.empty())
        co_return true;
    auto [ec, n] = co_await net::async_write(s, net::buffer(data), use_tuple);
    co_return !ec;
}

enum class body_result { complete, disconnect, failed };

/// How a body is written, beyond what its events are.
struct body_pacing
{
    bool bytewise = false;               // `mock:bytewise`
    std::chrono::milliseconds linger{0}; // `mock:linger`: pause before the body's end
};

/// Writes `out` (the head so far) and then every piece `w` yields, each as one HTTP chunk,
/// paced by the pieces' delays; then ends the body the way `w.end()` says.
template <class Stream, class Writer>
awaitable<body_result> send_body(Stream& s, std::string out, Writer& w, body_pacing pacing)
{
    const bool bytewise = pacing.bytewise;
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
        fill_stamp(
            *piece,
            std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch()
            )
                .count()
        );
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
        if (bytewise || pacing.linger.count() > 0) {
            if (const bool written = co_await write_all(s, out); !written)
                co_return body_result::failed;
            out.clear();
        }
        // The events are all out; the client sees a reply that is over while its HTTP
        // response is not (a slow upstream teardown).
        if (pacing.linger.count() > 0) {
            timer.expires_after(pacing.linger);
            if (auto [ec] = co_await timer.async_wait(use_tuple); ec)
                co_return body_result::failed;
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

/// Waits `delay` while watching the connection; false when the peer closed it first.
template <class Stream>
awaitable<bool> wait_watching(Stream& s, beast::flat_buffer& buf, std::chrono::milliseconds delay)
{
    using namespace net::experimental::awaitable_operators;
    net::steady_timer timer(co_await net::this_coro::executor, delay);
    auto r = co_await (timer.async_wait(use_tuple) || watch_peer_close(s, buf));
    co_return r.index() == 0 && !std::get<0>(std::get<0>(r));
}

/// Streams `w`'s body while watching for the client closing, records the outcome, and says
/// what the connection does next (`next` after a complete body).
template <class Stream, class Writer>
awaitable<after_response> stream_response(
    Stream& s,
    beast::flat_buffer& buf,
    Writer& w,
    bool keep_alive,
    body_pacing pacing,
    open_response& open,
    after_response next
)
{
    using namespace net::experimental::awaitable_operators;
    auto result = co_await (
        send_body(s, stream_head(keep_alive, true), w, pacing) || watch_peer_close(s, buf)
    );
    if (result.index() == 0) {
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
    }
    open.finish(stats::outcome::aborted);
    co_return after_response::abort;
}

} // namespace tokenrelay::mock::detail
