// Start-up and shutdown of the real process (PROTOCOL.md sections 2 and 7): draining on
// SIGTERM, exit codes, bad flags.

#include "support/relay_fixture.hpp"
#include "support/test_env.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <optional>
#include <pthread.h>
#include <string>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

json::object chat(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

BOOST_AUTO_TEST_CASE(sigterm_drains_a_running_reply, *scaled_timeout(60))
{
    // A drain long enough to see the relay unready while it runs, on a slow machine too.
    relay_fixture f{{.flags = {"--drain-timeout", "3"}}};
    auto s = f.open_session();
    auto idle = f.open_session();
    auto msg = chat("slow mock:tokens=2000 mock:interval=50");
    msg["id"] = "d-1";
    s->send(msg);
    const auto first = s->read_until("token");

    const auto t0 = std::chrono::steady_clock::now();
    f.relay().signal(SIGTERM);
    // Section 2: the port keeps answering HTTP while draining, and /readyz says 503.
    BOOST_TEST(becomes_unready(f.port(), 2500ms));
    const auto health = http_get(f.port(), "/healthz");
    BOOST_TEST(health.status == 200u);
    // No new sessions while draining.
    ws_client late;
    const auto refused = late.handshake(f.port());
    BOOST_TEST(refused.ec.failed());
    BOOST_TEST(refused.status == 503u);
    // Nor new replies on connections already open (section 8): the client is told to
    // take its chat elsewhere, and the model is not asked.
    idle->send(chat("too late mock:tokens=3"));
    const auto no = idle->read_until("error");
    BOOST_TEST(string_of(no, "code") == "overloaded", no);
    BOOST_TEST(integer(no, "retry_after_ms") > 0, no);

    // The reply cannot finish in 3 s (100 s of tokens): it ends with "shutdown", then the
    // connection closes with 1001 going away.
    const auto r = s->collect_reply(10s, {first});
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(string_of(r.end, "reason") == "shutdown");
    BOOST_TEST(string_of(r.end, "id") == "d-1");
    check_seqs(r, 1); // after the user frame, which read_until skipped
    BOOST_TEST(r.text.starts_with("w0 w1 "));
    const auto after = s->expect_close(1001);
    BOOST_TEST(after.empty());
    BOOST_TEST(idle->expect_close(1001).empty()); // no frame of a reply that never was

    const auto status = f.relay().wait_exit(10s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running after the drain");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took >= 2900ms), "drained in " << took.count() << " ns");
    // Cut at the drain timeout, long before the reply's own end.
    BOOST_TEST((took < 30s), "drained in " << took.count() << " ns");
    // The upstream request of the cut reply is closed.
    BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") == 1);
}

BOOST_AUTO_TEST_CASE(sigterm_with_nothing_running_exits_promptly, *scaled_timeout(60))
{
    // Default drain timeout (30 s): with no generation there is nothing to wait for.
    relay_fixture f;
    const auto t0 = std::chrono::steady_clock::now();
    f.relay().signal(SIGTERM);
    const auto status = f.relay().wait_exit(5s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running 5 s after SIGTERM");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
    // Not at the end of the 30 s drain timeout.
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 20s));
}

BOOST_AUTO_TEST_CASE(sigterm_closes_idle_connections_with_1001, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("quick mock:tokens=1"));
    BOOST_TEST(s->collect_reply().text == "w0 ");

    f.relay().signal(SIGTERM);
    const auto before_close = s->expect_close(1001, 5000ms);
    BOOST_TEST(before_close.empty());
    const auto status = f.relay().wait_exit(5s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running 5 s after SIGTERM");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
}

BOOST_AUTO_TEST_CASE(sigint_drains_like_sigterm, *scaled_timeout(60))
{
    relay_fixture f;
    f.relay().signal(SIGINT);
    const auto status = f.relay().wait_exit(5s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running 5 s after SIGINT");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
}

BOOST_AUTO_TEST_CASE(sigint_drains_when_started_with_it_blocked, *scaled_timeout(60))
{
    // Some supervisors and CI runners start children with SIGINT blocked; the mask is
    // inherited through fork and exec, and the relay must still drain on it.
    struct sigint_blocked_here
    {
        sigset_t before;
        sigint_blocked_here()
        {
            sigset_t sigint;
            ::sigemptyset(&sigint);
            ::sigaddset(&sigint, SIGINT);
            ::pthread_sigmask(SIG_BLOCK, &sigint, &before);
        }
        ~sigint_blocked_here() { ::pthread_sigmask(SIG_SETMASK, &before, nullptr); }
    };
    std::optional<relay_fixture> f;
    {
        const sigint_blocked_here blocked;
        f.emplace();
    }

    f->relay().signal(SIGINT);
    const auto status = f->relay().wait_exit(5s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running 5 s after SIGINT");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
}

BOOST_AUTO_TEST_CASE(version_names_the_build, *scaled_timeout(60))
{
    for (const char* flag : {"--version", "-V"}) {
        BOOST_TEST_CONTEXT(flag)
        {
            auto relay = start_relay({flag});
            const auto status = relay->wait_exit(10s);
            BOOST_TEST_REQUIRE(status.has_value(), "relay did not exit after " << flag);
            BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
            const auto out = relay->stdout_text();
            BOOST_TEST(out.starts_with("tokenrelay "), out);
            BOOST_TEST(out.find("\nBoost 1.") != std::string::npos, out);
            BOOST_TEST(out.find("\nOpenSSL ") != std::string::npos, out);
            BOOST_TEST(out.find("upstream reads: ") != std::string::npos, out);
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_flag_value_exits_2_naming_the_flag, *scaled_timeout(60))
{
    struct bad
    {
        std::vector<std::string> args;
        const char* flag;
    };
    const bad cases[] = {
        {{"--threads", "abc"}, "--threads"},
        {{"--max-message-bytes", "-5"}, "--max-message-bytes"},
        {{"--resume-window", "soon"}, "--resume-window"},
        {{"--no-such-flag", "1"}, "--no-such-flag"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.flag)
        {
            auto args = c.args;
            args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
            auto relay = start_relay(args);
            const auto status = relay->wait_exit(10s);
            BOOST_TEST_REQUIRE(status.has_value(), "relay did not exit on a bad flag");
            BOOST_TEST(*status == (exit_status{.exited = true, .code = 2}));
            const auto err = relay->stderr_text();
            BOOST_TEST(err.find(c.flag) != std::string::npos, err);
            // One line: a single newline, at the end.
            BOOST_TEST(!err.empty());
            BOOST_TEST(err.find('\n') == err.size() - 1, err);
            BOOST_TEST(relay->stdout_text().find("listening on") == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_refused_not_shared, *scaled_timeout(60))
{
    // Each loop listens with SO_REUSEPORT; a second relay on the same port must still fail
    // to start rather than silently take part of the first one's connections.
    relay_fixture first{{.flags = {"--threads", "2"}}};
    auto second =
        start_relay({"--listen", "127.0.0.1:" + std::to_string(first.port()), "--threads", "2"});
    const auto status = second->wait_exit(10s);
    BOOST_TEST_REQUIRE(status.has_value(), "a second relay on a port in use did not exit");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 2}));
    const auto err = second->stderr_text();
    BOOST_TEST(err.find("--listen") != std::string::npos, err);
    BOOST_TEST(err.find("in use") != std::string::npos, err);
    // The first relay serves on, from both of its loops.
    for (int i = 0; i < 4; ++i) {
        auto s = first.open_session();
        s->send(json::object{{"type", "chat"}, {"content", "still mine mock:tokens=2"}});
        BOOST_TEST(s->collect_reply().text == "w0 w1 ");
    }
}

BOOST_AUTO_TEST_CASE(bad_environment_value_names_the_flag, *scaled_timeout(60))
{
    // Section 7: TOKENRELAY_<FLAG> is the flag; a bad value names the flag all the same.
    auto relay = start_relay(
        {"--listen", "127.0.0.1:0"},
        {{"TOKENRELAY_API_KEY", std::string(test_api_key)}, {"TOKENRELAY_THREADS", "abc"}}
    );
    const auto status = relay->wait_exit(10s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay did not exit on a bad environment value");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 2}));
    const auto err = relay->stderr_text();
    BOOST_TEST(
        (err.find("--threads") != std::string::npos ||
         err.find("TOKENRELAY_THREADS") != std::string::npos),
        err
    );
}

} // namespace
} // namespace tokenrelay::test
