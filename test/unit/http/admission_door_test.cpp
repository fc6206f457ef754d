// The questions both doors ask before they serve a client (PROTOCOL.md section 7), and
// the refusals they answer with: the WebSocket upgrade renders them as a plain answer, a
// completion request as a status and a JSON error, so status, code, wording and
// Retry-After are what the doors send.

#include <tokenrelay/http/admission.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace th = tokenrelay::http_server;
namespace http = boost::beast::http;
using th::door;
using tokenrelay::errc;

namespace {

tokenrelay::config::relay_config config_with_token(std::string token = {})
{
    tokenrelay::config::relay_config c;
    c.client_token = std::move(token);
    return c;
}

/// The status check_client() answers with for `door`, or 0 when it lets the client in.
unsigned client_status(
    const th::client_credentials& who,
    const std::string& token,
    const std::vector<std::string>& allowed = {},
    door d = door::websocket
)
{
    auto cfg = config_with_token(token);
    cfg.allowed_origins = allowed;
    const auto refused = th::check_client(d, who, cfg);
    return refused ? static_cast<unsigned>(refused->status) : 0u;
}

const std::string token = "s3cret-token";

} // namespace

BOOST_AUTO_TEST_SUITE(door_admission_suite)

BOOST_AUTO_TEST_CASE(open_relay_lets_clients_without_origin_in)
{
    BOOST_TEST(client_status({"", "", "", "127.0.0.1:8080"}, "") == 0u);
}

BOOST_AUTO_TEST_CASE(client_token_from_header_or_query)
{
    BOOST_TEST(client_status({"", "", "", "h"}, token) == 401u);
    BOOST_TEST(client_status({"Bearer s3cret-token", "", "", "h"}, token) == 0u);
    BOOST_TEST(client_status({"bearer s3cret-token", "", "", "h"}, token) == 0u);
    BOOST_TEST(client_status({"", "s3cret-token", "", "h"}, token) == 0u);
    BOOST_TEST(client_status({"Bearer s3cret-tokem", "", "", "h"}, token) == 401u);
    BOOST_TEST(client_status({"Basic s3cret-token", "", "", "h"}, token) == 401u);
    BOOST_TEST(client_status({"", "s3cret", "", "h"}, token) == 401u);
}

BOOST_AUTO_TEST_CASE(default_origin_is_the_relays_own)
{
    BOOST_TEST(client_status({"", "", "http://localhost:8080", "localhost:8080"}, "") == 0u);
    BOOST_TEST(client_status({"", "", "https://chat.example", "chat.example"}, "") == 0u);
    BOOST_TEST(client_status({"", "", "http://evil.example", "localhost:8080"}, "") == 403u);
    BOOST_TEST(client_status({"", "", "http://localhost:9999", "localhost:8080"}, "") == 403u);
    BOOST_TEST(client_status({"", "", "null", "localhost:8080"}, "") == 403u);
}

BOOST_AUTO_TEST_CASE(configured_origins_replace_the_default)
{
    const std::vector<std::string> allowed{"https://chat.example.com"};
    BOOST_TEST(
        client_status({"", "", "https://chat.example.com", "relay:8080"}, "", allowed) == 0u
    );
    BOOST_TEST(
        client_status({"", "", "HTTPS://Chat.Example.com:443", "relay:8080"}, "", allowed) == 0u
    );
    BOOST_TEST(client_status({"", "", "http://relay:8080", "relay:8080"}, "", allowed) == 403u);
}

BOOST_AUTO_TEST_CASE(token_is_checked_before_origin)
{
    BOOST_TEST(client_status({"", "", "http://evil.example", "h"}, "t") == 401u);
}

BOOST_AUTO_TEST_CASE(each_door_words_its_refusals)
{
    const auto cfg = config_with_token(token);
    const auto ws = th::check_client(door::websocket, {}, cfg);
    const auto api = th::check_client(door::completions, {}, cfg);
    BOOST_TEST_REQUIRE((ws && api));
    BOOST_TEST(ws->message == "a valid client token is required");
    BOOST_TEST(api->message == "a valid client token is required (Authorization: Bearer)");
    BOOST_TEST((api->code == errc::unauthorized));
    const auto origin =
        th::check_client(door::completions, {"", "", "http://evil.example", "h"}, {});
    BOOST_TEST_REQUIRE(origin.has_value());
    BOOST_TEST(origin->message == "origin not allowed");
    BOOST_TEST((origin->code == errc::unauthorized));
}

BOOST_AUTO_TEST_CASE(a_draining_relay_takes_no_new_client)
{
    tokenrelay::runtime::relay_state state(tokenrelay::config::relay_config{});
    BOOST_TEST(!th::check_draining(door::websocket, state));
    state.draining = true;
    const auto ws = th::check_draining(door::websocket, state);
    const auto api = th::check_draining(door::completions, state);
    BOOST_TEST_REQUIRE((ws && api));
    BOOST_TEST((ws->status == http::status::service_unavailable));
    BOOST_TEST(ws->message == "draining");
    BOOST_TEST(api->message == "the relay is shutting down");
    BOOST_TEST((api->code == errc::overloaded));
    BOOST_TEST(api->retry_after_s == 5);
}

BOOST_AUTO_TEST_CASE(connection_slots_count_per_address_and_in_all)
{
    tokenrelay::config::relay_config cfg;
    cfg.max_connections = 2;
    cfg.max_connections_per_ip = 1;
    tokenrelay::runtime::relay_state state(cfg);
    {
        th::connection_slot a(state.connections);
        BOOST_TEST(!a.reserve("10.0.0.1", cfg));
        th::connection_slot again(state.connections);
        const auto per_ip = again.reserve("10.0.0.1", cfg);
        BOOST_TEST_REQUIRE(per_ip.has_value());
        BOOST_TEST((per_ip->status == http::status::too_many_requests));
        BOOST_TEST(per_ip->message == "too many connections from this address");
        BOOST_TEST(per_ip->retry_after_s == 5);
        th::connection_slot b(state.connections);
        BOOST_TEST(!b.reserve("10.0.0.2", cfg));
        th::connection_slot c(state.connections);
        const auto total = c.reserve("10.0.0.3", cfg);
        BOOST_TEST_REQUIRE(total.has_value());
        BOOST_TEST((total->status == http::status::service_unavailable));
        BOOST_TEST(total->message == "overloaded");
        BOOST_TEST((total->code == errc::overloaded));
    }
    // Every slot went back with its holder; a refused one held nothing.
    th::connection_slot d(state.connections);
    BOOST_TEST(!d.reserve("10.0.0.1", cfg));
    th::connection_slot e(state.connections);
    BOOST_TEST(!e.reserve("10.0.0.3", cfg));
}

BOOST_AUTO_TEST_CASE(a_handed_over_slot_stays_taken)
{
    tokenrelay::config::relay_config cfg;
    cfg.max_connections_per_ip = 1;
    tokenrelay::runtime::relay_state state(cfg);
    {
        th::connection_slot a(state.connections);
        BOOST_TEST(!a.reserve("10.0.0.1", cfg));
        a.hand_over(); // the WebSocket connection gives it back when it ends
    }
    th::connection_slot b(state.connections);
    BOOST_TEST(b.reserve("10.0.0.1", cfg).has_value());
    state.connections.release("10.0.0.1");
    BOOST_TEST(!b.reserve("10.0.0.1", cfg));
}

BOOST_AUTO_TEST_CASE(the_upgrade_asks_in_order_and_gives_the_slot_back)
{
    tokenrelay::config::relay_config cfg;
    cfg.client_token = token;
    cfg.max_connections_per_ip = 1;
    cfg.max_sessions_per_ip = 1;
    tokenrelay::runtime::relay_state state(cfg);
    const th::client_credentials good{"Bearer s3cret-token", "", "", "h"};
    const std::string ip = "10.0.0.1";
    auto status = [&](const th::client_credentials& who, std::optional<std::string_view> resume) {
        th::connection_slot slot(state.connections);
        const auto refused = th::admit_upgrade(who, ip, resume, state, slot);
        return refused ? static_cast<unsigned>(refused->status) : 0u;
    };
    BOOST_TEST(status(good, std::nullopt) == 0u);
    BOOST_TEST(status({}, std::nullopt) == 401u);
    // The client holds its one session, attached: a new one is refused, and so is the
    // resume of a session the relay does not hold, which would open one too.
    auto held = std::make_shared<int>(0);
    BOOST_TEST(!state.sessions.clients.add_session(held, ip, 0));
    BOOST_TEST(status(good, std::nullopt) == 429u);
    BOOST_TEST(status(good, std::string_view("no-such-session")) == 429u);
    {
        th::connection_slot slot(state.connections);
        const auto refused = th::admit_upgrade(good, ip, std::nullopt, state, slot);
        BOOST_TEST_REQUIRE(refused.has_value());
        BOOST_TEST(refused->message == "too many sessions from this address");
    }
    // The refusals gave their connection slots back; draining comes before the token.
    state.draining = true;
    BOOST_TEST(status({}, std::nullopt) == 503u);
    state.draining = false;
    th::connection_slot other(state.connections);
    BOOST_TEST(!other.reserve(ip, cfg));
}

BOOST_AUTO_TEST_CASE(a_reply_needs_room_in_the_clients_bounds_and_upstream)
{
    tokenrelay::config::relay_config cfg;
    cfg.max_generations_per_ip = 1;
    cfg.max_upstream_requests = 1;
    tokenrelay::runtime::relay_state state(cfg);
    auto first = th::admit_reply(state, "10.0.0.1");
    BOOST_TEST_REQUIRE(std::holds_alternative<tokenrelay::session::reply_admission>(first));
    BOOST_TEST(state.sessions.clients.generations_of("10.0.0.1") == 1u);
    BOOST_TEST(state.upstream_slots.in_use() == 1u);

    const auto bound = th::admit_reply(state, "10.0.0.1");
    BOOST_TEST_REQUIRE(std::holds_alternative<th::refusal>(bound));
    const auto& over_bound = std::get<th::refusal>(bound);
    BOOST_TEST((over_bound.status == http::status::too_many_requests));
    BOOST_TEST((over_bound.code == errc::rate_limited));
    BOOST_TEST(over_bound.retry_after_s >= 1);

    const auto upstream = th::admit_reply(state, "10.0.0.2");
    BOOST_TEST_REQUIRE(std::holds_alternative<th::refusal>(upstream));
    const auto& no_upstream = std::get<th::refusal>(upstream);
    BOOST_TEST((no_upstream.status == http::status::service_unavailable));
    BOOST_TEST((no_upstream.code == errc::overloaded));
    BOOST_TEST(
        no_upstream.message == "the relay is at its limit of upstream requests; try again soon"
    );
    BOOST_TEST(no_upstream.retry_after_s == 1);
    // Refused for want of an upstream request, the reply holds nothing of its client.
    BOOST_TEST(state.sessions.clients.generations_of("10.0.0.2") == 0u);
}

BOOST_AUTO_TEST_CASE(the_clients_rate_counts_completion_requests)
{
    tokenrelay::config::relay_config cfg;
    cfg.rate_limit_per_ip = 1;
    tokenrelay::runtime::relay_state state(cfg);
    {
        auto first = th::admit_reply(state, "10.0.0.1");
        BOOST_TEST(std::holds_alternative<tokenrelay::session::reply_admission>(first));
    }
    const auto second = th::admit_reply(state, "10.0.0.1");
    BOOST_TEST_REQUIRE(std::holds_alternative<th::refusal>(second));
    BOOST_TEST(
        std::get<th::refusal>(second).message ==
        "too many messages from this address; try again later"
    );
    BOOST_TEST(std::get<th::refusal>(second).retry_after_s >= 1);
}

BOOST_AUTO_TEST_SUITE_END()
