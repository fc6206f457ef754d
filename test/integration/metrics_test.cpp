// GET /metrics (PROTOCOL.md section 1): the exposition is checked by Prometheus's own
// parser (`promtool check metrics`), and the counters move by exactly what a chat did.

#include "support/eventually.hpp"
#include "support/metric_samples.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

/// Runs promtool's exposition parser and linter over `text`; returns its exit status and
/// output.
std::pair<int, std::string> promtool_check(const std::string& text)
{
    temp_dir dir;
    dir.write_file("metrics.txt", text);
    const auto out = (dir / "out.txt").string();
    const std::string cmd =
        "promtool check metrics < " + (dir / "metrics.txt").string() + " > " + out + " 2>&1";
    const int status = std::system(cmd.c_str());
    return {status, read_file(out)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(metrics_endpoint)

BOOST_AUTO_TEST_CASE(exposition_parses_and_counts_a_chat_exactly)
{
    relay_fixture relay;
    const auto before = http_get(relay.port(), "/metrics");
    BOOST_TEST(before.status == 200u);
    BOOST_TEST(before.header("Content-Type").find("version=0.0.4") != std::string::npos);
    const auto [status, output] = promtool_check(before.body);
    BOOST_TEST(status == 0, "promtool: " << output);

    auto s = relay.open_session();
    s->send(json::object{{"type", "chat"}, {"content", "count me mock:tokens=8"}});
    const auto reply = s->collect_reply();
    BOOST_TEST(reply.text == "w0 w1 w2 w3 w4 w5 w6 w7 ");

    const auto after = http_get(relay.port(), "/metrics");
    const auto [status2, output2] = promtool_check(after.body);
    BOOST_TEST(status2 == 0, "promtool: " << output2);
    const auto m = parse_metric_samples(after.body);
    BOOST_TEST(m.at("tokenrelay_tokens_relayed_total") == 8);
    BOOST_TEST(m.at("tokenrelay_token_bytes_relayed_total") == 24);
    BOOST_TEST(m.at("tokenrelay_generations_total") == 1);
    BOOST_TEST(m.at("tokenrelay_sessions_created_total") == 1);
    BOOST_TEST(m.at("tokenrelay_open_connections") == 1);
    BOOST_TEST(m.at("tokenrelay_sessions{state=\"attached\"}") == 1);
    BOOST_TEST(m.at("tokenrelay_upstream_responses_total{class=\"2xx\"}") == 1);
    BOOST_TEST(m.at("tokenrelay_completion_tokens_total") == 8);
    BOOST_TEST(m.at("tokenrelay_time_to_first_token_seconds_count") == 1);
    BOOST_TEST(m.at("tokenrelay_inter_token_seconds_count") == 7);
    BOOST_TEST(m.at("process_open_fds") > 0);
    BOOST_TEST(m.at("process_resident_memory_bytes") > 0);
}

BOOST_AUTO_TEST_CASE(errors_and_detached_sessions_are_counted)
{
    relay_fixture relay({.flags = {"--resume-window", "30"}});
    {
        auto s = relay.open_session();
        s->send_text("not json");
        const auto err = s->read_until("error");
        BOOST_TEST(string_of(err, "code") == "bad_json");
        s->drop();
    }
    // The drop is noticed asynchronously, and the session detaches before the connection
    // is gone: wait on both of the relay's own figures.
    std::map<std::string, double> m;
    BOOST_TEST(eventually(
        [&] {
            m = scrape_metrics(relay.port());
            return m.at("tokenrelay_sessions{state=\"detached\"}") == 1 &&
                   m.at("tokenrelay_open_connections") == 0;
        },
        2s
    ));
    BOOST_TEST(m.at("tokenrelay_sessions{state=\"detached\"}") == 1);
    BOOST_TEST(m.at("tokenrelay_open_connections") == 0);
    BOOST_TEST(m.at("tokenrelay_errors_total{code=\"bad_json\"}") == 1);
}

BOOST_AUTO_TEST_CASE(upstream_requests_and_connections_are_gauged)
{
    relay_fixture relay;
    const auto idle = "tokenrelay_upstream_connections{state=\"idle\"}";
    const auto in_use = "tokenrelay_upstream_connections{state=\"in_use\"}";
    auto m = scrape_metrics(relay.port());
    BOOST_TEST(m.at("tokenrelay_upstream_requests_in_flight") == 0);
    BOOST_TEST(m.at(in_use) == 0);
    BOOST_TEST(m.at(idle) == 0);

    auto s = relay.open_session();
    s->send(json::object{{"type", "chat"}, {"content", "hold on mock:tokens=3 mock:interval=300"}});
    const auto first = s->read_until("token");
    m = scrape_metrics(relay.port());
    BOOST_TEST(m.at("tokenrelay_upstream_requests_in_flight") == 1);
    BOOST_TEST(m.at(in_use) == 1);
    BOOST_TEST(m.at(idle) == 0);
    const auto reply = s->collect_reply(30s, {first});
    BOOST_TEST(reply.text == "w0 w1 w2 ");

    // The slot and the connection are given back as the generation winds down, which
    // may be just after its stream_end reached the client.
    BOOST_TEST(eventually(
        [&] {
            m = scrape_metrics(relay.port());
            return m.at("tokenrelay_upstream_requests_in_flight") == 0 && m.at(idle) == 1;
        },
        2s
    ));
    BOOST_TEST(m.at("tokenrelay_upstream_requests_in_flight") == 0);
    // Section 6: kept alive for the next request.
    BOOST_TEST(m.at(in_use) == 0);
    BOOST_TEST(m.at(idle) == 1);

    // A cancel closes the upstream request: that connection is not pooled.
    s->send(json::object{{"type", "chat"}, {"content", "stop me mock:tokens=50 mock:interval=100"}}
    );
    s->read_until("token");
    s->send(json::object{{"type", "cancel"}});
    BOOST_TEST(string_of(s->read_until("stream_end"), "reason") == "cancelled");
    relay.mock_wait("aborted", 1);
    BOOST_TEST(eventually(
        [&] {
            m = scrape_metrics(relay.port());
            return m.at("tokenrelay_upstream_requests_in_flight") == 0 && m.at(in_use) == 0;
        },
        2s
    ));
    BOOST_TEST(m.at("tokenrelay_upstream_requests_in_flight") == 0);
    BOOST_TEST(m.at(in_use) == 0);
    BOOST_TEST(m.at(idle) == 0);
}

BOOST_AUTO_TEST_CASE(a_metrics_token_guards_the_exposition)
{
    const std::string token = "m3trics-Tok.en";
    temp_dir dir;
    const auto file = dir.write_file("metrics-token", token + "\n").string();
    relay_fixture from_flag{{.flags = {"--metrics-token", token}}};
    relay_fixture from_file{{.flags = {"--metrics-token-file", file}}};
    auto from_env = start_relay(
        {"--listen", "127.0.0.1:0"},
        {{"TOKENRELAY_API_KEY", std::string(test_api_key)}, {"TOKENRELAY_METRICS_TOKEN", token}}
    );
    const auto env_port = from_env->wait_for_listening(10s);

    for (const auto port : {from_flag.port(), from_file.port(), env_port}) {
        BOOST_TEST_CONTEXT("port " << port)
        {
            const std::vector<std::string> refused{
                "", "Bearer wrong", "Bearer " + token + "x", token, "Basic " + token};
            for (const auto& auth : refused) {
                BOOST_TEST_CONTEXT("Authorization: " << auth)
                {
                    header_list headers;
                    if (!auth.empty())
                        headers.emplace_back("Authorization", auth);
                    const auto r = http_get(port, "/metrics", headers);
                    BOOST_TEST(r.status == 401u);
                    BOOST_TEST(r.header("WWW-Authenticate") == "Bearer");
                    BOOST_TEST(r.body.find("tokenrelay_") == std::string::npos);
                    BOOST_TEST(r.body.find(token) == std::string::npos);
                }
            }
            const auto ok = http_get(port, "/metrics", {{"Authorization", "Bearer " + token}});
            BOOST_TEST(ok.status == 200u);
            BOOST_TEST(ok.body.find("tokenrelay_open_connections") != std::string::npos);
            // The other doors stay as they were.
            BOOST_TEST(http_get(port, "/healthz").status == 200u);
        }
    }
    BOOST_TEST(from_flag.relay().stderr_text().find(token) == std::string::npos);
    BOOST_TEST(from_env->stderr_text().find(token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_a_metrics_token_the_exposition_is_open)
{
    relay_fixture relay{{.flags = {"--client-token", "client-secret-1"}}};
    const auto r = http_get(relay.port(), "/metrics");
    BOOST_TEST(r.status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::test
