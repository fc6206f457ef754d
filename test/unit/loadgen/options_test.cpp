#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/loadgen/options.hpp>
#include <testing/loadgen/url.hpp>
#include <vector>

namespace loadgen = tokenrelay::loadgen;

namespace {

loadgen::options_result parse(std::vector<std::string_view> args)
{
    return loadgen::parse_options(args);
}

} // namespace

BOOST_AUTO_TEST_SUITE(loadgen_options)

BOOST_AUTO_TEST_CASE(defaults)
{
    const auto r = parse({});
    BOOST_REQUIRE(r.value.has_value());
    BOOST_TEST(r.value->sessions == 100u);
    BOOST_TEST((r.value->mode == loadgen::pattern::chat));
    BOOST_TEST(r.value->stamp);
    BOOST_TEST(r.value->threads == 1u);
}

BOOST_AUTO_TEST_CASE(flags_in_both_forms)
{
    const auto r = parse(
        {"--url",
         "ws://127.0.0.1:9/ws",
         "--sessions=20000",
         "--ramp",
         "2000",
         "--duration",
         "2.5",
         "--mode",
         "reconnect",
         "--tokens",
         "7",
         "--interval-ms",
         "0",
         "--think-ms=0",
         "--relay-pid",
         "12,34",
         "--relay-pid",
         "56",
         "--json",
         "/tmp/r.json",
         "--threads",
         "2",
         "--no-stamp",
         "--quiet",
         "--drop-after-ms",
         "300",
         "--per-address",
         "100"}
    );
    BOOST_TEST_REQUIRE(r.value.has_value(), r.error);
    const auto& o = *r.value;
    BOOST_TEST(o.url == "ws://127.0.0.1:9/ws");
    BOOST_TEST(o.sessions == 20000u);
    BOOST_TEST(o.ramp == 2000.0);
    BOOST_TEST(o.duration_s == 2.5);
    BOOST_TEST((o.mode == loadgen::pattern::reconnect));
    BOOST_TEST(o.tokens == 7u);
    BOOST_TEST(o.interval_ms == 0u);
    BOOST_TEST(o.think_ms == 0u);
    BOOST_TEST(o.relay_pids == (std::vector<int>{12, 34, 56}), boost::test_tools::per_element());
    BOOST_TEST(o.json_path == "/tmp/r.json");
    BOOST_TEST(o.threads == 2u);
    BOOST_TEST(!o.stamp);
    BOOST_TEST(o.quiet);
    BOOST_TEST(o.drop_after_ms == 300u);
    BOOST_TEST(o.per_address == 100u);
}

BOOST_AUTO_TEST_CASE(errors_name_the_flag)
{
    struct
    {
        std::vector<std::string_view> args;
        std::string error;
    } const cases[] = {
        {{"--sessions", "0"}, "--sessions: expected a positive integer, got 0"},
        {{"--ramp", "-1"}, "--ramp: expected a positive number, got -1"},
        {{"--mode", "storm"}, "--mode: expected chat, idle, burst or reconnect, got storm"},
        {{"--relay-pid", "12,x"}, "--relay-pid: expected process ids, got 12,x"},
        {{"--threads", "0"}, "--threads: expected an integer from 1 to 64, got 0"},
        {{"--tokens"}, "--tokens needs a value"},
        {{"--bogus", "1"}, "unknown flag --bogus"},
        {{"--sse=1"}, "--sse takes no value"},
        {{"--sse", "--mode", "idle"}, "--sse supports --mode chat only"},
        {{"--tutorial", "--mode", "reconnect"},
         "--tutorial relays cannot resume: no --mode reconnect"},
    };
    for (const auto& c : cases) {
        const auto r = parse(c.args);
        BOOST_TEST(!r.value.has_value());
        BOOST_TEST(r.error == c.error);
    }
    BOOST_TEST(parse({"--help"}).help);
}

BOOST_AUTO_TEST_CASE(urls)
{
    const auto ws = loadgen::parse_url("ws://127.0.0.1:8080/ws");
    BOOST_REQUIRE(ws.has_value());
    BOOST_TEST(ws->scheme == "ws");
    BOOST_TEST(ws->host == "127.0.0.1");
    BOOST_TEST(ws->port == 8080u);
    BOOST_TEST(ws->path == "/ws");

    const auto sse = loadgen::parse_url("http://[::1]:81/v1/chat/completions");
    BOOST_REQUIRE(sse.has_value());
    BOOST_TEST(sse->host == "::1");
    BOOST_TEST(sse->port == 81u);
    BOOST_TEST(sse->path == "/v1/chat/completions");

    const auto bare = loadgen::parse_url("ws://localhost");
    BOOST_REQUIRE(bare.has_value());
    BOOST_TEST(bare->port == 80u);
    BOOST_TEST(bare->path == "/");

    for (const char* bad :
         {"127.0.0.1:80/ws", "wss://h:1/", "ws://:80/", "ws://h:0/", "ws://h:x/", "ws://[::1/"})
        BOOST_TEST(!loadgen::parse_url(bad).has_value(), bad);

    BOOST_TEST(loadgen::with_query("/ws", "session", "abc") == "/ws?session=abc");
    BOOST_TEST(
        loadgen::with_query("/ws?session=abc", "last_seq", "7") == "/ws?session=abc&last_seq=7"
    );
}

BOOST_AUTO_TEST_SUITE_END()
