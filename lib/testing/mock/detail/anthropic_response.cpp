#include <tokenrelay/core/log.hpp>

#include <boost/json/parse.hpp>

#include <testing/mock/anthropic_writer.hpp>
#include <testing/mock/detail/anthropic_response.hpp>
#include <testing/mock/detail/response_io.hpp>
#include <testing/mock/directives.hpp>
#include <testing/mock/whole_answer.hpp>
#include <variant>

namespace tokenrelay::mock::detail {
namespace {

constexpr std::string_view json_type = "application/json";

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
    st.counters.on_raw_body(req.body());
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
    auto input = ec ? std::nullopt : parse_messages_input(body);
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

    if (!input->stream) {
        // The answer comes when the stream would have ended; a client that leaves first aborts.
        if (const auto delay = whole_answer_delay(p, *input); delay.count() > 0) {
            if (const bool waited = co_await wait_watching(s, buf, delay); !waited) {
                open.finish(stats::outcome::aborted);
                co_return after_response::abort;
            }
        }
        auto whole = anthropic_whole_answer(p, *input, id);
        co_return co_await answer(200, std::move(whole), std::nullopt);
    }

    const body_pacing pacing{p.bytewise, p.linger};
    anthropic_writer writer(std::move(p), std::move(*input), id);
    co_return co_await stream_response(s, buf, writer, keep_alive, pacing, open, next);
}

template awaitable<after_response>
respond_messages<plain_stream>(plain_stream&, beast::flat_buffer&, const request&, server_state&);
template awaitable<after_response>
respond_messages<tls_stream>(tls_stream&, beast::flat_buffer&, const request&, server_state&);

} // namespace tokenrelay::mock::detail
