#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <testing/loadgen/proc_stat.hpp>
#include <testing/loadgen/report.hpp>
#include <unistd.h>

namespace loadgen = tokenrelay::loadgen;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(loadgen_report)

BOOST_AUTO_TEST_CASE(proc_stat_cpu_counts_fields_after_the_name)
{
    // proc(5): the name may hold spaces and ')'; utime 250 and stime 50 ticks.
    const std::string stat = "4242 (tok) relay) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 "
                             "20 0 3 0 100 1000000 500";
    const auto cpu = loadgen::parse_stat_cpu(stat, 100).value();
    BOOST_TEST(cpu.user_s == 2.5);
    BOOST_TEST(cpu.system_s == 0.5);
    BOOST_TEST(cpu.total_s() == 3.0);
    BOOST_TEST(!loadgen::parse_stat_cpu("4242 (x) S 1 2", 100).has_value());
    BOOST_TEST(!loadgen::parse_stat_cpu("no parenthesis", 100).has_value());
}

BOOST_AUTO_TEST_CASE(proc_status_values)
{
    const std::string status =
        "Name:\ttokenrelay\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
    BOOST_TEST(loadgen::parse_status_kib(status, "VmRSS").value() == 10240u);
    BOOST_TEST(loadgen::parse_status_kib(status, "VmHWM").value() == 20480u);
    BOOST_TEST(!loadgen::parse_status_kib(status, "VmSwap").has_value());
    BOOST_TEST(!loadgen::parse_status_kib(status, "Vm").has_value());
}

BOOST_AUTO_TEST_CASE(reads_this_process)
{
    const auto s = loadgen::read_proc(static_cast<int>(::getpid()));
    BOOST_TEST(s.ok);
    BOOST_TEST(s.rss_kib > 0u);
    BOOST_TEST(s.hwm_kib >= s.rss_kib);
    BOOST_TEST(!loadgen::read_proc(-1).ok);
}

BOOST_AUTO_TEST_CASE(json_report_derives_rates_and_per_unit_figures)
{
    loadgen::run_report r;
    r.opts.sessions = 1000;
    r.wall_s = 10;
    r.m.sessions_opened = 1000;
    r.m.tokens = 50000;
    r.m.frames = 25000;
    r.m.first_token_us = 1'000'000;
    r.m.last_token_us = 6'000'000;
    r.m.replies_completed = 1000;
    r.m.replies_exact = 999;
    r.m.error("timeout");
    r.m.error("timeout");
    r.m.error("closed");
    for (std::uint64_t v = 1; v <= 100; ++v)
        r.m.token_latency_us.record(v); // exact below 128 us
    r.relay.measured = true;
    r.relay.cpu = {1.0, 1.5}; // user, system: 2.5 s
    r.relay.rss_baseline_kib = 10000;
    r.relay.rss_loaded_kib = 12000;

    const auto j = json::parse(loadgen::to_json(r));
    BOOST_TEST(j.at("tokens_per_s").as_double() == 10000.0);
    BOOST_TEST(j.at("frames_per_s").as_double() == 5000.0);
    BOOST_TEST(j.at("errors_total").to_number<std::uint64_t>() == 3u);
    BOOST_TEST(j.at_pointer("/errors/timeout").to_number<std::uint64_t>() == 2u);
    BOOST_TEST(j.at_pointer("/token_latency_ms/p50").as_double() == 0.05);
    BOOST_TEST(j.at_pointer("/token_latency_ms/max").as_double() == 0.1);
    BOOST_TEST(j.at_pointer("/relay/cpu_us_per_token").as_double() == 50.0);
    BOOST_TEST(j.at_pointer("/relay/user_us_per_token").as_double() == 20.0);
    BOOST_TEST(j.at_pointer("/relay/system_us_per_token").as_double() == 30.0);
    BOOST_TEST(j.at_pointer("/relay/rss_per_session_bytes").as_double() == 2048.0);
    BOOST_TEST(j.at_pointer("/relay/cpu_utilisation").as_double() == 0.25);

    const auto table = loadgen::to_table(r);
    BOOST_TEST(table.find("timeout=2") != std::string::npos);
    BOOST_TEST(table.find("50.00 us/token (user 20.00, system 30.00)") != std::string::npos, table);
    BOOST_TEST(
        loadgen::latency_csv(r.m.token_latency_us).find("0.100 1.000000\n") != std::string::npos
    );
}

BOOST_AUTO_TEST_CASE(merge_adds_counts_and_keeps_the_token_window)
{
    loadgen::metrics a, b;
    a.tokens = 3;
    a.first_token_us = 500;
    a.last_token_us = 900;
    a.error("x");
    b.tokens = 4;
    b.first_token_us = 200;
    b.last_token_us = 700;
    b.error("x");
    b.error("y");
    b.round_ttft_us.resize(2);
    b.round_ttft_us[1].record(7);
    a.merge(b);
    BOOST_TEST(a.tokens == 7u);
    BOOST_TEST(a.first_token_us == 200);
    BOOST_TEST(a.last_token_us == 900);
    BOOST_TEST(a.errors.at("x") == 2u);
    BOOST_TEST(a.error_total() == 3u);
    BOOST_REQUIRE(a.round_ttft_us.size() == 2u);
    BOOST_TEST(a.round_ttft_us[1].count() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
