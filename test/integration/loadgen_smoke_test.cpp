// The load generator against the real relay and mock: a small run must finish cleanly with
// every reply exact. Speed is not asserted (shared CI machines); scripts/bench measures it.

#include "support/child_process.hpp"
#include "support/eventually.hpp"
#include "support/metric_samples.hpp"
#include "support/relay_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/test_env.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

// CTest sets LOADGEN_BIN; the fallback is the loadgen built beside tokenrelay.
std::string loadgen_bin()
{
    if (const char* p = std::getenv("LOADGEN_BIN"); p && *p)
        return p;
    return (std::filesystem::path(required_env("TOKENRELAY_BIN")).parent_path() / "loadgen")
        .string();
}

/// loadgen started against `relay`, writing its JSON report into its own directory.
struct loadgen_run
{
    loadgen_run(relay_fixture& relay, std::vector<std::string> args)
        : report(dir / "report.json"), process(loadgen_bin(), with_target(relay, args, report))
    {}

    /// Waits for loadgen to end cleanly and returns its report.
    json::object finish()
    {
        const auto status = process.wait_exit(120s);
        BOOST_TEST_REQUIRE(status.has_value(), "loadgen did not finish");
        BOOST_TEST_REQUIRE(
            (*status == exit_status{.exited = true, .code = 0}),
            "loadgen ended with " << *status << ": " << process.stderr_text()
        );
        std::ifstream in(report);
        const std::string text{std::istreambuf_iterator<char>(in), {}};
        return json::parse(text).as_object();
    }

    temp_dir dir;
    std::filesystem::path report;
    child_process process;

private:
    static std::vector<std::string> with_target(
        relay_fixture& relay, std::vector<std::string> args, const std::filesystem::path& report
    )
    {
        args.insert(
            args.end(),
            {"--url",
             "ws://127.0.0.1:" + std::to_string(relay.port()) + "/ws",
             "--relay-pid",
             std::to_string(relay.relay().pid()),
             "--json",
             report.string(),
             "--quiet"}
        );
        return args;
    }
};

json::object run_loadgen(relay_fixture& relay, std::vector<std::string> args)
{
    return loadgen_run(relay, std::move(args)).finish();
}

std::int64_t int_at(const json::object& o, std::string_view pointer)
{
    return json::value(o).at_pointer(pointer).to_number<std::int64_t>();
}

double number_at(const json::object& o, std::string_view pointer)
{
    return json::value(o).at_pointer(pointer).to_number<double>();
}

} // namespace

BOOST_AUTO_TEST_SUITE(loadgen_smoke)

BOOST_AUTO_TEST_CASE(hundred_chat_sessions_get_exact_replies)
{
    relay_fixture relay{{.flags = one_address_load()}};
    const auto r = run_loadgen(
        relay,
        {"--sessions",
         "100",
         "--ramp",
         "200",
         "--duration",
         "5",
         "--think-ms",
         "500",
         "--tokens",
         "20",
         "--interval-ms",
         "10"}
    );
    BOOST_TEST(int_at(r, "/sessions_opened") == 100);
    BOOST_TEST(int_at(r, "/sessions_failed") == 0);
    BOOST_TEST(int_at(r, "/errors_total") == 0, "errors: " << r.at("errors"));
    BOOST_TEST(int_at(r, "/seq_errors") == 0);
    const auto completed = int_at(r, "/replies_completed");
    BOOST_TEST(completed > 0);
    // Every chat started was answered in full before the run ended, with the exact text.
    BOOST_TEST(int_at(r, "/replies_started") == completed);
    BOOST_TEST(int_at(r, "/replies_exact") == completed);
    BOOST_TEST(int_at(r, "/replies_mismatched") == 0);
    BOOST_TEST(int_at(r, "/tokens") == completed * 20);
    // One upstream request per chat: the relay neither lost nor duplicated any.
    BOOST_TEST(int_at(relay.mock_stats(), "/requests") == completed);

    // Every token carried the mock's stamp, so every token has a latency.
    BOOST_TEST(int_at(r, "/token_latency_ms/count") == completed * 20);
    BOOST_TEST(int_at(r, "/ttft_ms/count") == completed);
    for (const auto* p : {"/token_latency_ms/p50", "/token_latency_ms/p99", "/ttft_ms/p50"})
        BOOST_TEST(number_at(r, p) >= 0.0);
    BOOST_TEST(number_at(r, "/token_latency_ms/p99") >= number_at(r, "/token_latency_ms/p50"));
    BOOST_TEST(number_at(r, "/token_latency_ms/max") >= number_at(r, "/token_latency_ms/p99"));
    BOOST_TEST(r.at("relay").at("measured").as_bool());
    BOOST_TEST(number_at(r, "/relay/rss_peak_kib") > 0.0);
}

// Idle mode holds every session open until the end of the run, even when the next ping
// would fall after it: the idle-capacity benchmark measures memory per *open* session.
BOOST_AUTO_TEST_CASE(idle_sessions_stay_open_until_the_end)
{
    relay_fixture relay{{.flags = one_address_load()}};
    constexpr int sessions = 40;
    loadgen_run run(
        relay,
        {"--mode",
         "idle",
         "--sessions",
         std::to_string(sessions),
         "--ramp",
         "1000",
         "--duration",
         "3",
         "--ping-interval",
         "600",
         "--grace",
         "1"}
    );
    const auto open = [&] {
        return scrape_metrics(relay.port()).at("tokenrelay_open_connections");
    };
    // A session that closed once its handshake was done (no ping due before the end)
    // would never let all of them be open at once.
    BOOST_TEST(eventually([&] { return open() == sessions || !run.process.running(); }, 30s));
    BOOST_TEST(open() == sessions);
    const auto r = run.finish();
    BOOST_TEST(int_at(r, "/sessions_opened") == sessions);
    BOOST_TEST(int_at(r, "/errors_total") == 0, "errors: " << r.at("errors"));
}

// --chats-per-session 1 without think time (scripts/bench's short chats): each connection
// chats as soon as it is open and closes after the reply, so the run ends with the last
// reply, long before its duration.
BOOST_AUTO_TEST_CASE(one_chat_per_session_closes_after_the_reply)
{
    relay_fixture relay{{.flags = one_address_load()}};
    constexpr int sessions = 40;
    const auto r = run_loadgen(
        relay,
        {"--sessions",
         std::to_string(sessions),
         "--ramp",
         "40",
         "--duration",
         "30",
         "--grace",
         "5",
         "--think-ms",
         "0",
         "--chats-per-session",
         "1",
         "--tokens",
         "20",
         "--interval-ms",
         "10"}
    );
    BOOST_TEST(int_at(r, "/sessions_opened") == sessions);
    BOOST_TEST(int_at(r, "/errors_total") == 0, "errors: " << r.at("errors"));
    BOOST_TEST(int_at(r, "/replies_started") == sessions);
    BOOST_TEST(int_at(r, "/replies_exact") == sessions);
    BOOST_TEST(int_at(r, "/replies_abandoned") == 0);
    BOOST_TEST(int_at(r, "/tokens") == sessions * 20);
    BOOST_TEST(int_at(relay.mock_stats(), "/requests") == sessions);
    // A 1 s ramp and 0.2 s replies: sessions that kept chatting would run for 30 s.
    BOOST_TEST(number_at(r, "/wall_s") < 15.0);
    BOOST_TEST(number_at(r, "/relay/cpu_ms_per_reply") >= 0.0);
}

BOOST_AUTO_TEST_CASE(dropped_sessions_resume_with_exact_replies)
{
    relay_fixture relay{{.flags = one_address_load()}};
    const auto r = run_loadgen(
        relay,
        {"--mode",
         "reconnect",
         "--sessions",
         "50",
         "--ramp",
         "500",
         "--duration",
         "20",
         "--tokens",
         "60",
         "--interval-ms",
         "20",
         "--spread-ms",
         "50",
         "--drop-after-ms",
         "400"}
    );
    BOOST_TEST(int_at(r, "/sessions_opened") == 50);
    BOOST_TEST(int_at(r, "/errors_total") == 0, "errors: " << r.at("errors"));
    // 60 tokens at 20 ms take 1.2 s: every reply is mid-stream when the drop comes.
    BOOST_TEST(int_at(r, "/resume/drops") == 50);
    BOOST_TEST(int_at(r, "/resume/resumed") == 50);
    BOOST_TEST(int_at(r, "/resume/exact_in_time") == 50);
    BOOST_TEST(int_at(r, "/replies_exact") == 50);
    BOOST_TEST(int_at(r, "/tokens") == 50 * 60);
    BOOST_TEST(int_at(r, "/seq_errors") == 0);
    BOOST_TEST(int_at(relay.mock_stats(), "/requests") == 50);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::test
