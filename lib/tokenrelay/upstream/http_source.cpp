// One generation against an OpenAI-compatible or Anthropic server (PROTOCOL.md section 6):
// the request built once, then attempts (attempt.cpp) until one ends the reply. Retries
// happen only before the first token; every failure message has the key redacted
// (section 1).

#include <tokenrelay/core/log.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/upstream/attempt.hpp>
#include <tokenrelay/upstream/http_source.hpp>
#include <tokenrelay/upstream/request_body.hpp>

#include <stdexcept>
#include <utility>

namespace tokenrelay::upstream {

using namespace detail;

namespace {

/// The POST of one generation: `{base}/chat/completions` with a bearer key, or Anthropic's
/// `{base}/messages` with `x-api-key`; the reply streamed as SSE over a kept-alive
/// connection.
http::request<http::string_body>
make_http_request(const http_source_options& options, const chat_request& request)
{
    const auto& ep = options.endpoint;
    const bool anthropic = options.format == api_format::anthropic;
    http::request<http::string_body> req{
        http::verb::post, ep.base_path + (anthropic ? "/messages" : "/chat/completions"), 11};
    req.set(http::field::host, ep.host_header());
    req.set(http::field::user_agent, "tokenrelay");
    req.set(http::field::content_type, "application/json");
    const bool whole = request.forward && !request.forward->stream;
    req.set(http::field::accept, whole ? "application/json" : "text/event-stream");
    if (anthropic) {
        if (!options.api_key.empty())
            req.set("x-api-key", options.api_key);
        req.set("anthropic-version", "2023-06-01");
    } else if (!options.api_key.empty())
        req.set(http::field::authorization, "Bearer " + options.api_key);
    req.keep_alive(true);
    if (request.forward)
        req.body() = request.forward->body;
    else
        req.body() =
            anthropic ? build_anthropic_request_body(request) : build_request_body(request);
    req.prepare_payload();
    return req;
}

} // namespace

http_source::http_source(
    net::any_io_executor loop_executor,
    std::shared_ptr<ssl::context> tls,
    http_source_options options
)
    : options_(std::move(options)),
      pool_(
          std::move(loop_executor),
          options_.endpoint,
          tls,
          pool_options{
              options_.max_idle_connections, options_.idle_timeout, options_.connect_timeout}
      ),
      random_(std::random_device{}())
{
    if (options_.endpoint.tls && !tls)
        throw std::invalid_argument("an https upstream needs a TLS context");
}

awaitable<void> http_source::stream(chat_request request, event_channel& out)
{
    auto req = make_http_request(options_, request);
    const auto start = clock::now();
    const bool forward = request.forward.has_value();
    call_state c{
        req,
        out,
        options_,
        start + options_.first_token_timeout,
        {},
        false,
        forward,
        !forward || request.forward->stream,
        forward ? request.model : std::string()};
    retry_policy policy(options_.retry_limits);
    net::steady_timer backoff(co_await net::this_coro::executor);
    bool fresh_connection = false;

    for (;;) {
        auto r = co_await attempt(pool_, c, fresh_connection);
        if (r.kind != verdict::stale)
            metrics::global().count_upstream_response(
                r.kind == verdict::done ? 200 : r.failure.end->http_status
            );
        if (r.kind == verdict::done)
            co_return;
        const auto state = co_await net::this_coro::cancellation_state;
        throw_if_cancelled(state);
        // A pooled connection the server had closed costs a reconnect, not a retry.
        fresh_connection = r.kind == verdict::stale;
        if (fresh_connection)
            continue;

        if (r.kind == verdict::retry && !c.token_sent) {
            const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
            const auto delay = policy.next_delay(unit, r.retry_after);
            // Waiting past the first-token deadline could only end in a timeout.
            if (delay && clock::now() + *delay < c.first_token_deadline) {
                log::info(
                    "upstream_retry",
                    {{"attempt", std::to_string(policy.retries_done())},
                     {"delay_ms", std::to_string(delay->count())},
                     {"reason", r.failure.end->message}}
                );
                metrics::global().upstream_retries.fetch_add(1, std::memory_order_relaxed);
                backoff.expires_after(*delay);
                co_await backoff.async_wait(net::use_awaitable);
                continue;
            }
        }
        co_await send_event(c, std::move(r.failure));
        co_return;
    }
}

} // namespace tokenrelay::upstream
