// One attempt of a generation request (PROTOCOL.md section 6): a connection from the pool
// or a new one, the request written, the response head read, and its body handed to the
// event-stream reader (2xx) or the error reader (anything else).

#include <tokenrelay/upstream/attempt.hpp>

namespace tokenrelay::upstream::detail {

namespace {

template <class Stream>
awaitable<attempt_result> exchange(Stream& stream, connection& conn, call_state& c)
{
    c.read_deadline = c.first_token_deadline;
    conn.expires_at(c.read_deadline);
    auto [wec, wn] = co_await http::async_write(stream, c.request, use_tuple);
    if (wec)
        co_return early_failure(c, conn, wec, true);

    response_parser parser;
    // Streams are long; Beast's default 8 MB body limit would cut them (the SSE parser
    // bounds lines and events instead).
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(stream, conn.buffer(), parser, use_tuple);
    if (hec)
        co_return early_failure(c, conn, hec, !parser.got_some() && conn.buffer().size() == 0);

    if (parser.get().result_int() / 100 != 2)
        co_return co_await read_error_reply(stream, conn, parser, c);
    if (!c.stream)
        co_return co_await read_whole_reply(stream, conn, parser, c);
    co_return co_await read_event_stream(stream, conn, parser, c);
}

} // namespace

awaitable<attempt_result> attempt(connection_pool& pool, call_state& c, bool fresh_connection)
{
    std::unique_ptr<connection> conn = fresh_connection ? nullptr : pool.take_idle();
    if (!conn) {
        auto cr = co_await pool.connect(c.first_token_deadline);
        if (cr.ec)
            co_return connect_failure(c, cr);
        conn = std::move(cr.conn);
    }
    attempt_result r;
    if (auto* tls = conn->tls())
        r = co_await exchange(*tls, *conn, c);
    else
        r = co_await exchange(*conn->plain(), *conn, c);
    if (r.reusable && r.kind != verdict::stale) {
        conn->count_use();
        pool.release(std::move(conn));
    }
    // Anything else is closed here, never pooled.
    co_return r;
}

} // namespace tokenrelay::upstream::detail
