#include <tokenrelay/runtime/relay_state.hpp>

namespace tokenrelay::runtime {
namespace {

std::unique_ptr<store::shared_store> store_from(const config::relay_config& c)
{
    if (!c.store.redis)
        return nullptr;
    store::redis_endpoint e;
    e.host = c.store.host;
    e.port = c.store.port;
    e.db = c.store.db;
    e.username = c.store.username;
    e.password = c.store_password;
    std::optional<store::store_tls> tls;
    if (c.store.tls)
        tls = store::store_tls{c.store_ca};
    store::store_timing t;
    t.key_ttl = c.resume_window;
    return std::make_unique<store::shared_store>(std::move(e), std::move(tls), t);
}

session::session_settings session_settings_from(
    const config::relay_config& c,
    upstream::request_slots& slots,
    drain_watch& drain,
    store::shared_store* shared
)
{
    session::session_settings s;
    s.store = shared;
    s.upstream_slots = &slots;
    s.drain = &drain;
    s.model = c.model;
    s.replay_log_bytes = c.replay_log_bytes;
    s.backlog_bytes = c.outbound_backlog_bytes;
    s.history_max_turns = c.history_max_turns;
    s.history_max_bytes = c.history_max_bytes;
    s.history_max_image_bytes = c.max_image_bytes;
    s.rate_limit = c.rate_limit;
    s.resume_window = c.resume_window;
    s.max_connections = c.max_connections_per_session;
    s.prices = {c.price_input_usd, c.price_output_usd};
    s.token_budget = c.session_token_budget;
    s.log_content = c.log_content;
    return s;
}

session::client_limits client_limits_from(const config::relay_config& c)
{
    session::client_limits l;
    l.sessions_per_client = c.max_sessions_per_ip;
    l.generations_per_client = c.max_generations_per_ip;
    l.detached_sessions = c.max_detached_sessions;
    l.chats_per_minute = c.rate_limit_per_ip;
    return l;
}

protocol::frame_limits frame_limits_from(const config::relay_config& c)
{
    protocol::frame_limits l;
    l.max_content_bytes = c.max_message_bytes;
    l.max_context_messages = c.max_context_messages;
    l.max_context_bytes = c.max_context_bytes;
    l.max_tokens_ceiling = c.max_tokens_ceiling;
    l.max_frame_bytes = c.max_message_bytes;
    l.max_image_bytes = c.max_image_bytes;
    l.max_body_bytes = c.max_http_body_bytes;
    // --allowed-models defaults to "only --model" (PROTOCOL.md section 7).
    l.allowed_models =
        c.allowed_models.empty() ? std::vector<std::string>{c.model} : c.allowed_models;
    return l;
}

} // namespace

relay_state::relay_state(config::relay_config cfg)
    : config(std::move(cfg)), upstream_slots(config.max_upstream_requests),
      store(store_from(config)),
      session_settings(session_settings_from(config, upstream_slots, drain, store.get())),
      frame_limits(frame_limits_from(config)), sessions(client_limits_from(config))
{}

} // namespace tokenrelay::runtime
