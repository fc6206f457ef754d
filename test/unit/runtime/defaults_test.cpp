// The sans-I/O pieces carry defaults of their own (for their unit tests and fuzzers), but
// the relay's defaults are relay_config's (config/config.hpp, what --help prints): the
// ones the relay derives from a default config must be the pieces' own, so neither can
// drift from the other unnoticed.
#include <tokenrelay/runtime/relay_state.hpp>

#include <boost/test/unit_test.hpp>

using namespace tokenrelay;

BOOST_AUTO_TEST_SUITE(runtime_defaults)

BOOST_AUTO_TEST_CASE(frame_limits_are_the_config_defaults)
{
    const runtime::relay_state state{config::relay_config{}};
    const protocol::frame_limits pieces;
    BOOST_TEST(state.frame_limits.max_content_bytes == pieces.max_content_bytes);
    BOOST_TEST(state.frame_limits.max_context_messages == pieces.max_context_messages);
    BOOST_TEST(state.frame_limits.max_context_bytes == pieces.max_context_bytes);
    BOOST_TEST(state.frame_limits.max_tokens_ceiling == pieces.max_tokens_ceiling);
    // --allowed-models defaults to "only --model" (PROTOCOL.md section 7).
    BOOST_TEST(state.frame_limits.allowed_models == std::vector<std::string>{state.config.model});
}

BOOST_AUTO_TEST_CASE(session_settings_are_the_config_defaults)
{
    const runtime::relay_state state{config::relay_config{}};
    const session::session_settings pieces;
    const auto& s = state.session_settings;
    BOOST_TEST(s.replay_log_bytes == pieces.replay_log_bytes);
    BOOST_TEST(s.backlog_bytes == pieces.backlog_bytes);
    BOOST_TEST(s.history_max_turns == pieces.history_max_turns);
    BOOST_TEST(s.history_max_bytes == pieces.history_max_bytes);
    BOOST_TEST(s.rate_limit == pieces.rate_limit);
    BOOST_TEST(s.resume_window.count() == pieces.resume_window.count());
    BOOST_TEST(s.max_connections == pieces.max_connections);
    BOOST_TEST(s.token_budget == pieces.token_budget);
    BOOST_TEST(s.log_content == pieces.log_content);
    BOOST_TEST(s.prices.input_per_million == pieces.prices.input_per_million);
    BOOST_TEST(s.prices.output_per_million == pieces.prices.output_per_million);
}

BOOST_AUTO_TEST_CASE(client_limits_are_the_config_defaults)
{
    const runtime::relay_state state{config::relay_config{}};
    const session::client_limits pieces;
    const auto& l = state.sessions.clients.limits();
    BOOST_TEST(l.sessions_per_client == pieces.sessions_per_client);
    BOOST_TEST(l.generations_per_client == pieces.generations_per_client);
    BOOST_TEST(l.detached_sessions == pieces.detached_sessions);
    BOOST_TEST(l.chats_per_minute == pieces.chats_per_minute);
}

BOOST_AUTO_TEST_SUITE_END()
