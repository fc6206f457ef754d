// Usage and cost accounting (PROTOCOL.md section 2, stream_end.usage): the upstream's
// count or the relay's estimate, the cost at --price-input/--price-output, the per-session
// --session-token-budget, the totals in /metrics and the generation_end log line.

#include "support/metric_samples.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

json::object chat(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

/// A cost of `micro` micro-dollars as the double a JSON parser makes of its decimal text,
/// so the relay's number must be exactly that decimal, not merely close to it.
double micro_usd(std::int64_t micro)
{
    char text[32];
    std::snprintf(text, sizeof text, "0.%06lld", static_cast<long long>(micro));
    return json::parse(text).as_double();
}

/// The relay logs generation_end after the stream_end is queued for the client, on its
/// own thread: wait (bounded) until `count` such lines are there, and return the last.
std::string generation_end_line(relay_fixture& relay, std::size_t count = 1)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
    for (;;) {
        const auto text = relay.relay().stderr_text();
        std::vector<std::string> lines;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);)
            if (line.find(" generation_end ") != std::string::npos)
                lines.push_back(line);
        if (lines.size() >= count)
            return lines[count - 1];
        if (std::chrono::steady_clock::now() > deadline) {
            BOOST_FAIL("no generation_end line " << count << " in the relay's stderr:\n" << text);
            return {};
        }
        std::this_thread::sleep_for(10ms);
    }
}

bool has(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(usage)

BOOST_AUTO_TEST_CASE(
    upstream_usage_and_exact_cost_in_stream_end_metrics_and_log, *scaled_timeout(60)
)
{
    relay_fixture relay({.flags = {"--price-input", "1", "--price-output", "2"}});
    auto s = relay.open_session();
    s->send(chat("price me mock:tokens=8"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 w5 w6 w7 ");
    const auto p = mock_prompt_tokens(relay.mock_stats().at("last_body").as_object());
    BOOST_TEST(p == 5); // 22 characters / 4

    const auto& usage = r.end.at("usage").as_object();
    BOOST_TEST(integer(usage, "prompt_tokens") == p);
    BOOST_TEST(integer(usage, "completion_tokens") == 8);
    // 5 × $1 + 8 × $2 per million tokens.
    BOOST_TEST(usage.at("cost_usd").as_double() == micro_usd(p * 1 + 8 * 2));
    BOOST_TEST(!usage.contains("estimated"));
    BOOST_TEST(usage.size() == 3u);

    const auto m = scrape_metrics(relay.port());
    BOOST_TEST(m.at("tokenrelay_prompt_tokens_total") == p);
    BOOST_TEST(m.at("tokenrelay_completion_tokens_total") == 8);
    BOOST_TEST(m.at("tokenrelay_estimated_usage_total") == 0);
    BOOST_TEST(m.at("tokenrelay_cost_usd_total") == micro_usd(p + 16));

    const auto line = generation_end_line(relay);
    const auto session_id = string_of(s.frame, "session");
    BOOST_TEST(has(line, " session=" + session_id.substr(0, 6)), line);
    BOOST_TEST(!has(line, session_id), line);
    BOOST_TEST(has(line, " id=m1 "), line);
    BOOST_TEST(has(line, " model=deepseek-v3.2 "), line);
    BOOST_TEST(has(line, " reason=stop "), line);
    BOOST_TEST(has(line, " prompt_tokens=" + std::to_string(p) + " "), line);
    BOOST_TEST(has(line, " completion_tokens=8 "), line);
    BOOST_TEST(has(line, " usage=upstream "), line);
    BOOST_TEST(has(line, " cost_usd=0.000021 "), line);
    BOOST_TEST(has(line, " ttft_ms="), line);
    BOOST_TEST(has(line, " total_ms="), line);
    // Content stays out of the log unless --log-content.
    BOOST_TEST(!has(line, "content="), line);
    BOOST_TEST(!has(line, "reply="), line);
    BOOST_TEST(!has(relay.relay().stderr_text(), "price me"));
    BOOST_TEST(!has(relay.relay().stderr_text(), "w0 w1"));
}

BOOST_AUTO_TEST_CASE(groq_usage_in_x_groq_is_the_upstream_count, *scaled_timeout(60))
{
    relay_fixture relay;
    auto s = relay.open_session();
    s->send(chat("count mock:groq_usage mock:tokens=6"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 w5 ");
    const auto p = mock_prompt_tokens(relay.mock_stats().at("last_body").as_object());
    const auto& usage = r.end.at("usage").as_object();
    BOOST_TEST(integer(usage, "prompt_tokens") == p);
    BOOST_TEST(integer(usage, "completion_tokens") == 6);
    BOOST_TEST(!usage.contains("estimated")); // read, not counted by the relay
    BOOST_TEST(has(generation_end_line(relay), " usage=upstream "));
}

BOOST_AUTO_TEST_CASE(without_upstream_usage_the_relay_counts_and_says_so, *scaled_timeout(60))
{
    relay_fixture relay({.flags = {"--price-input", "1", "--price-output", "2"}});
    auto s = relay.open_session();
    s->send(chat("count mock:no_usage mock:tokens=5 mock:reasoning=2"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 ");
    BOOST_TEST(r.reasoning == "r0 r1 ");
    // The relay's estimate follows the same rule as the mock's report would have.
    const auto p = mock_prompt_tokens(relay.mock_stats().at("last_body").as_object());
    BOOST_TEST(p == 12); // 50 characters / 4

    const auto& usage = r.end.at("usage").as_object();
    BOOST_TEST(integer(usage, "prompt_tokens") == p);
    BOOST_TEST(integer(usage, "completion_tokens") == 7); // content and reasoning events
    BOOST_TEST(usage.at("estimated").as_bool());
    BOOST_TEST(usage.at("cost_usd").as_double() == micro_usd(p + 7 * 2));

    const auto m = scrape_metrics(relay.port());
    BOOST_TEST(m.at("tokenrelay_prompt_tokens_total") == p);
    BOOST_TEST(m.at("tokenrelay_completion_tokens_total") == 7);
    BOOST_TEST(m.at("tokenrelay_estimated_usage_total") == 1);
    BOOST_TEST(m.at("tokenrelay_cost_usd_total") == micro_usd(p + 14));

    const auto line = generation_end_line(relay);
    BOOST_TEST(has(line, " usage=estimated "), line);
    BOOST_TEST(has(line, " completion_tokens=7 "), line);
}

BOOST_AUTO_TEST_CASE(without_prices_usage_has_no_cost, *scaled_timeout(60))
{
    relay_fixture relay;
    auto s = relay.open_session();
    s->send(chat("free mock:tokens=2"));
    const auto r = s->collect_reply();
    const auto& usage = r.end.at("usage").as_object();
    BOOST_TEST(integer(usage, "completion_tokens") == 2);
    BOOST_TEST(!usage.contains("cost_usd"));
    BOOST_TEST(usage.size() == 2u);
    BOOST_TEST(scrape_metrics(relay.port()).at("tokenrelay_cost_usd_total") == 0);
    const auto line = generation_end_line(relay);
    BOOST_TEST(!has(line, "cost_usd"), line);
}

BOOST_AUTO_TEST_CASE(a_spent_token_budget_refuses_the_next_chat, *scaled_timeout(60))
{
    relay_fixture relay({.flags = {"--session-token-budget", "20", "--resume-window", "30"}});
    auto s = relay.open_session();

    s->send(chat("budget mock:tokens=8"));
    const auto first = s->collect_reply();
    const auto t1 = integer(first.end.at("usage").as_object(), "prompt_tokens") + 8;
    BOOST_TEST_REQUIRE(t1 < 20); // 5 + 8: still under the budget

    // History makes the second prompt bigger: 20 + 24 + 20 characters / 4 = 16.
    s->send(chat("budget mock:tokens=8"));
    const auto second = s->collect_reply();
    BOOST_TEST(string_of(second.end, "reason") == "stop");
    const auto t2 = integer(second.end.at("usage").as_object(), "prompt_tokens") + 8;
    BOOST_TEST_REQUIRE(t1 + t2 >= 20);

    s->send(json::object{{"type", "chat"}, {"content", "one more"}, {"id", "c3"}});
    const auto err = s->read_until("error");
    BOOST_TEST(string_of(err, "code") == "rate_limited");
    BOOST_TEST(string_of(err, "id") == "c3");
    BOOST_TEST(has(string_of(err, "message"), "token budget"), err);
    BOOST_TEST(integer(err, "retry_after_ms") == 30000);
    // Refused before the upstream: the mock saw only the two accepted chats.
    BOOST_TEST(integer(relay.mock_stats(), "requests") == 2);

    // A new session has its own budget.
    auto other = relay.open_session();
    other->send(chat("fresh mock:tokens=1"));
    BOOST_TEST(other->collect_reply().text == "w0 ");
}

BOOST_AUTO_TEST_CASE(log_content_adds_the_message_and_the_reply, *scaled_timeout(60))
{
    relay_fixture relay({.flags = {"--log-content"}});
    auto s = relay.open_session();
    s->send(chat("log me mock:tokens=3"));
    BOOST_TEST(s->collect_reply().text == "w0 w1 w2 ");
    const auto line = generation_end_line(relay);
    BOOST_TEST(has(line, R"( content="log me mock:tokens=3")"), line);
    BOOST_TEST(has(line, R"( reply="w0 w1 w2 ")"), line);
    BOOST_TEST(has(line, " completion_tokens=3 "), line);
    BOOST_TEST(!has(line, string_of(s.frame, "session")), line);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::test
