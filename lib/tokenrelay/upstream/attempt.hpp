#pragma once
// The pieces of http_source (PROTOCOL.md section 6) that its phases share: the state of
// one stream() call, what one attempt of it ends in, and the hand-over of events to the
// caller's channel. Internal to the upstream module.
//
// The phases, one file each: http_source.cpp builds the request and retries;
// attempt.cpp takes a connection and exchanges one request on it;
// event_stream_reader.cpp reads a 2xx event stream; attempt_failure.cpp maps every
// failure to its event, the key redacted.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/upstream/connection_pool.hpp>
#include <tokenrelay/upstream/http_source.hpp>
#include <tokenrelay/upstream/model_source.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace tokenrelay::upstream::detail {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using response_parser = http::response_parser<http::buffer_body>;

// State shared by the attempts of one stream() call.
struct call_state
{
    http::request<http::string_body>& request;
    event_channel& out;
    const http_source_options& options;
    clock::time_point first_token_deadline;
    // The deadline of the read in progress: the connection's expiry holds it up to the
    // response header, the body's read_watchdog after that.
    clock::time_point read_deadline;
    bool token_sent = false;
    // A forwarded request (PROTOCOL.md section 9): chunks are sent on as they came, and
    // without `stream` the answer is one JSON body.
    bool forward = false;
    bool stream = true;
    std::string model; // a forwarded request's: its translated answer names it
};

enum class verdict {
    done,  // finished was sent
    retry, // failure is retryable if no token was sent
    fail,  // failure is final
    stale, // a reused connection broke before any response byte: reconnect, uncounted
};

struct attempt_result
{
    verdict kind = verdict::fail;
    stream_event failure; // retry and fail: the failed event to send
    std::optional<milliseconds> retry_after;
    bool reusable = false; // the response was read to the end and the server keeps alive
};

/// One attempt: a pooled connection unless `fresh_connection`, else a new one; the request
/// and its response on it; the connection back to the pool when it can carry another.
awaitable<attempt_result> attempt(connection_pool& pool, call_state& c, bool fresh_connection);

// attempt_failure.cpp: every failure, as the event the caller gets.

/// A failure of `kind` with the upstream key redacted from `message` (section 1).
attempt_result
failure(verdict kind, errc code, std::string message, int status, const call_state& c);
/// The first-token or token deadline passed.
attempt_result timeout_failure(const call_state& c, int status);
/// Whether `ec` ended a read because its deadline passed.
bool timed_out(const error_code& ec, const call_state& c);
/// An error's message in lower case, to continue a sentence.
std::string describe(const error_code& ec);
/// `s` without surrounding white space, cut to `limit` bytes on a UTF-8 boundary.
std::string cut(std::string_view s, std::size_t limit);
/// The longest upstream error text a failure quotes.
inline constexpr std::size_t max_error_text = 512;
/// A connection that failed before the status line: nothing reached the caller yet.
attempt_result
early_failure(const call_state& c, connection& conn, const error_code& ec, bool nothing_received);
/// A new connection that could not be made.
attempt_result connect_failure(const call_state& c, const connect_result& cr);
/// A non-2xx response: its body read (bounded) for the upstream's message.
template <class Stream>
awaitable<attempt_result>
read_error_reply(Stream& stream, connection& conn, response_parser& parser, call_state& c);

// event_stream_reader.cpp: a 2xx response, its events sent on as they come.
template <class Stream>
awaitable<attempt_result>
read_event_stream(Stream& stream, connection& conn, response_parser& parser, call_state& c);

// whole_reply_reader.cpp: a 2xx JSON answer to a forwarded request without `stream`.
template <class Stream>
awaitable<attempt_result>
read_whole_reply(Stream& stream, connection& conn, response_parser& parser, call_state& c);

// Cancellation ends stream() with an exception and no further event, even when the
// caller turned throw_if_cancelled off. Not a coroutine (it runs for every token): the
// caller passes `co_await net::this_coro::cancellation_state`, read into a variable
// first because GCC 12 miscompiles a co_await used directly as an if condition.
inline void throw_if_cancelled(const net::cancellation_state& state)
{
    if (is_cancelled(state))
        throw boost::system::system_error(net::error::operation_aborted);
}

/// Hands `ev` to the channel without suspending: mid-reply the pump is usually already
/// waiting, and try_send then saves a scheduler round trip, and without a coroutine frame
/// (this runs for every token). False when the channel is full, and `ev` is then left as
/// it was for send_event, which waits for room.
inline bool hand_over(call_state& c, stream_event& ev, const net::cancellation_state& state)
{
    throw_if_cancelled(state);
    return c.out.try_send(error_code{}, std::move(ev));
}

/// Sends `ev`, waiting for room in the channel when it is full.
awaitable<void> send_event(call_state& c, stream_event ev);

} // namespace tokenrelay::upstream::detail
