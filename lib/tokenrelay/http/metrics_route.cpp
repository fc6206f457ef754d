#include <tokenrelay/http/bearer.hpp>
#include <tokenrelay/http/metrics_route.hpp>
#include <tokenrelay/metrics/metrics.hpp>

namespace tokenrelay::http_server {
namespace {

std::string metrics_text(const runtime::relay_state& state)
{
    metrics::gauges g;
    for (const auto& s : state.sessions.all()) {
        (s->attached() ? g.live_sessions : g.detached_sessions) += 1;
        g.running_generations += s->generation_running() ? 1 : 0;
    }
    // POST /v1/chat/completions requests are generations too (section 1).
    g.running_generations += state.drain.completions_running();
    g.open_connections = state.connections.size();
    g.upstream_requests_in_flight = state.upstream_slots.in_use();
    const auto& c = state.sessions.counters;
    g.sessions_created = c.created.load();
    g.sessions_resumed = c.resumed.load();
    g.sessions_taken_over = c.taken_over.load();
    g.connections_too_slow = c.too_slow.load();
    g.sessions_expired = c.expired.load();
    g.sessions_evicted = c.evicted.load();
    g.draining = state.draining.load();
    if (state.store)
        g.store_up = state.store->up();
    return metrics::render(g);
}

} // namespace

response
metrics_response(const runtime::relay_state& state, const http::request<http::string_body>& request)
{
    const auto version = request.version();
    const bool keep_alive = request.keep_alive();
    const auto& token = state.config.metrics_token;
    if (!token.empty() && !bearer_matches(request[http::field::authorization], token)) {
        auto res = text_response(
            http::status::unauthorized,
            "a valid metrics token is required (Authorization: Bearer)",
            version,
            keep_alive
        );
        res.set(http::field::www_authenticate, "Bearer");
        return res;
    }
    auto res = text_response(http::status::ok, metrics_text(state), version, keep_alive);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    return res;
}

} // namespace tokenrelay::http_server
