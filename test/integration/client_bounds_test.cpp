// What one client may spend of the relay (PROTOCOL.md section 7): sessions and running
// replies per IP address, chats per minute that a new session does not reset, and the
// byte bound on what a session keeps of a reply. Past a bound the client gets a clear
// answer, and only its own detached sessions and replies are ended to make room.

#include "support/eventually.hpp"
#include "support/metric_samples.hpp"
#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

double metric(std::uint16_t port, const std::string& name)
{
    const auto m = scrape_metrics(port);
    const auto it = m.find(name);
    BOOST_TEST_REQUIRE((it != m.end()), "no " << name << " in /metrics");
    return it->second;
}

const std::string in_flight = "tokenrelay_upstream_requests_in_flight";
const std::string attached = "tokenrelay_sessions{state=\"attached\"}";
const std::string detached = "tokenrelay_sessions{state=\"detached\"}";

double sessions(std::uint16_t port)
{
    return metric(port, attached) + metric(port, detached);
}

/// A reply that runs for minutes unless something ends it.
json::object endless_chat()
{
    return chat_frame("go on mock:tokens=100000 mock:interval=50");
}

BOOST_AUTO_TEST_CASE(abandoned_sessions_stay_within_the_clients_bounds, *scaled_timeout(120))
{
    // The probe's pattern: connect, chat, drop, again and again. Each client's bounds hold
    // what it can leave running on the operator's key.
    relay_fixture f{
        {.flags = {
             "--max-sessions-per-ip",
             "5",
             "--max-generations-per-ip",
             "3",
             "--resume-window",
             "60"}}};
    constexpr int rounds = 20;
    for (int i = 0; i < rounds; ++i) {
        ws_client c;
        c.connect(f.port());
        c.send(endless_chat());
        c.read_until("token");
        c.drop();
        // The relay has seen the drop: the session is detached before the next one opens.
        BOOST_TEST_REQUIRE(
            eventually([&] { return metric(f.port(), "tokenrelay_open_connections") == 0; }, 10s)
        );
    }
    BOOST_TEST(eventually([&] { return metric(f.port(), in_flight) <= 3; }, 10s));
    BOOST_TEST(metric(f.port(), in_flight) <= 3);
    BOOST_TEST(sessions(f.port()) <= 5);
    BOOST_TEST(metric(f.port(), "tokenrelay_sessions_evicted_total") >= rounds - 5);
    // The mock sees the abandoned requests closed, all but the three still running.
    const auto stats = f.mock_wait("aborted", rounds - 3, 10000);
    BOOST_TEST(integer(stats, "requests") == rounds);
}

BOOST_AUTO_TEST_CASE(replies_past_the_bound_wait_when_every_one_has_a_reader, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--max-generations-per-ip", "2"}}};
    std::vector<relay_fixture::session> running;
    for (int i = 0; i < 2; ++i) {
        running.push_back(f.open_session());
        running.back()->send(endless_chat());
        running.back()->read_until("token");
    }
    auto third = f.open_session();
    auto msg = endless_chat();
    msg["id"] = "third";
    third->send(msg);
    const auto err = third->read();
    BOOST_TEST(string_of(err, "type") == "error");
    BOOST_TEST(string_of(err, "code") == "rate_limited");
    BOOST_TEST(string_of(err, "id") == "third");
    BOOST_TEST(integer(err, "retry_after_ms") > 0);
    // Nobody else's reply was cancelled for it: both still stream.
    for (auto& s : running)
        BOOST_TEST(string_of(s->read_until("token"), "type") == "token");
    BOOST_TEST(integer(f.mock_stats(), "aborted") == 0);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 2);
}

BOOST_AUTO_TEST_CASE(a_new_session_does_not_reset_the_rate_of_its_address, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--rate-limit-per-ip", "3", "--rate-limit", "100"}}};
    for (int i = 0; i < 3; ++i) {
        auto s = f.open_session();
        s->send(chat_frame("quick mock:tokens=1"));
        BOOST_TEST(s->collect_reply().text == "w0 ");
    }
    auto s = f.open_session();
    s->send(chat_frame("quick mock:tokens=1"));
    const auto err = s->read();
    BOOST_TEST(string_of(err, "code") == "rate_limited");
    BOOST_TEST(integer(err, "retry_after_ms") > 0);
    // The HTTP door shares the address's rate.
    const auto r = http_request(
        f.port(),
        http::verb::post,
        "/v1/chat/completions",
        {{"Content-Type", "application/json"}},
        R"({"model":"deepseek-v3.2","messages":[{"role":"user","content":"hi mock:tokens=1"}]})"
    );
    BOOST_TEST(r.status == 429u);
    BOOST_TEST(!r.header("Retry-After").empty());
    BOOST_TEST(integer(f.mock_stats(), "requests") == 3);
}

BOOST_AUTO_TEST_CASE(a_client_with_every_session_in_use_gets_no_new_one, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--max-sessions-per-ip", "2"}}};
    auto a = f.open_session();
    auto b = f.open_session();
    ws_client third;
    const auto refused = third.handshake(f.port());
    BOOST_TEST(refused.status == 429u);
    // Nor by naming a session the relay does not hold, which would open a fresh one.
    ws_client unknown;
    BOOST_TEST(unknown.handshake(f.port(), resume_target("no-such-session", 0)).status == 429u);
    // Resuming one of its own sessions is no new session.
    b->drop();
    BOOST_TEST_REQUIRE(
        eventually([&] { return metric(f.port(), "tokenrelay_open_connections") == 1; }, 10s)
    );
    ws_client back;
    const auto resumed = back.connect(f.port(), resume_target(string_of(b.frame, "session"), 0));
    BOOST_TEST(resumed.at("resumed").as_bool());
}

BOOST_AUTO_TEST_CASE(a_reply_longer_than_the_history_bound_is_kept_cut, *scaled_timeout(60))
{
    // Section 4: the session keeps a reply only up to the history's byte bound, however
    // long it runs; the log beside it has its own bound.
    relay_fixture f{{.flags = {"--history-max-bytes", "1000"}}};
    auto s = f.open_session();
    s->send(chat_frame("big mock:huge=300000"));
    const auto r = s->collect_reply(60s);
    BOOST_TEST(r.text.size() == 300000u);
    s->send(chat_frame("mock:echo"));
    const auto echoed = echoed_messages(s->collect_reply());
    const auto& messages = echoed.as_array();
    BOOST_TEST_REQUIRE(messages.size() >= 2u, echoed);
    const auto& reply = messages[messages.size() - 2].as_object();
    BOOST_TEST(reply.at("role").as_string() == "assistant");
    BOOST_TEST(reply.at("content").as_string() == std::string(1000, 'x'));
}

} // namespace
} // namespace tokenrelay::test
