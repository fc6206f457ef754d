#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <testing/mock/detail/connection.hpp>
#include <testing/mock/detail/response_io.hpp>
#include <testing/mock/directives.hpp>
#include <testing/mock/stream_writer.hpp>
#include <testing/mock/whole_answer.hpp>
#include <variant>

namespace tokenrelay::mock::detail {
namespace {

constexpr std::string_view json_type = "application/json";

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
    st.counters.on_raw_body(req.body());
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
    if (const auto auth = std::string_view(req[http::field::authorization]);
        auth.starts_with("Bearer "))
        input->bearer_token = std::string(auth.substr(7));
    const auto created = now_ms() / 1000;
    if (!input->stream) {
        // The answer comes when the stream would have ended; a client that leaves first aborts.
        if (const auto delay = whole_answer_delay(p, *input); delay.count() > 0) {
            if (const bool waited = co_await wait_watching(s, buf, delay); !waited) {
                open.finish(stats::outcome::aborted);
                co_return after_response::abort;
            }
        }
        co_return co_await answer(200, whole_answer(p, *input, id, created), std::nullopt);
    }
    if (p.nonewline)
        co_return co_await send_nonewline(s, *p.nonewline, open);

    const body_pacing pacing{p.bytewise, p.linger};
    stream_writer writer(std::move(p), std::move(*input), id, created);
    co_return co_await stream_response(s, buf, writer, keep_alive, pacing, open, next);
}

template awaitable<after_response>
respond_chat<plain_stream>(plain_stream&, beast::flat_buffer&, const request&, server_state&);
template awaitable<after_response>
respond_chat<tls_stream>(tls_stream&, beast::flat_buffer&, const request&, server_state&);

} // namespace tokenrelay::mock::detail
