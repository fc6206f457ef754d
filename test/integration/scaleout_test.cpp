// The scale-out recipe (README "Operating"): two real tokenrelay instances behind Debian's
// nginx running the shipped deploy/nginx/tokenrelay.conf. Chats and SSE pass through it
// unbuffered, a resume reaches the instance that holds the session (PROTOCOL.md section
// 3), new clients spread over both instances, and a draining instance (section 2) sends
// new sessions to the other one.

#include "support/free_port.hpp"
#include "support/nginx.hpp"
#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"
#include "support/temp_dir.hpp"
#include "support/test_env.hpp"

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto start_timeout = 10s;
const std::string affinity_cookie = "tokenrelay_affinity";

/// One mock_upstream, two relays on it, and nginx in front of both with the shipped
/// configuration; only its `listen` line and the upstream list are the test's.
class cluster
{
public:
    explicit cluster(std::vector<std::string> relay_flags = {})
    {
        mock_ = std::make_unique<child_process>(
            required_env("MOCK_UPSTREAM_BIN"), std::vector<std::string>{"--listen", "127.0.0.1:0"}
        );
        const auto mock_port = mock_->wait_for_listening(start_timeout);
        for (int i = 0; i < 2; ++i) {
            std::vector<std::string> args{
                "--listen",
                "127.0.0.1:0",
                "--static",
                required_env("TOKENRELAY_STATIC_DIR"),
                "--upstream",
                "http://127.0.0.1:" + std::to_string(mock_port) + "/v1"};
            args.insert(args.end(), relay_flags.begin(), relay_flags.end());
            relays_[i] = start_relay(args);
            ports_[i] = relays_[i]->wait_for_listening(start_timeout);
        }
        start_nginx();
    }

    ~cluster()
    {
        if (nginx_ && nginx_->running()) {
            nginx_->signal(SIGTERM);
            const auto s = nginx_->wait_exit(5s);
            BOOST_TEST((s && *s == exit_status{.exited = true, .code = 0}), "nginx ended badly");
        }
        for (auto& r : relays_) {
            if (r)
                r->stop(10s);
        }
        if (mock_)
            mock_->stop(2s);
        if (current_test_failed()) {
            for (int i = 0; i < 2; ++i)
                if (relays_[i])
                    std::cerr << "---- tokenrelay " << i << " stderr ----\n"
                              << relays_[i]->stderr_text();
            std::cerr << "---- nginx error.log ----\n"
                      << read_file(dir_ / "error.log") << "---- nginx access.log ----\n"
                      << read_file(dir_ / "access.log") << "----\n";
        }
    }

    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    std::uint16_t port() const noexcept { return nginx_port_; }
    std::uint16_t relay_port(int i) const noexcept { return ports_[i]; }
    child_process& relay(int i) noexcept { return *relays_[i]; }

    /// `tokenrelay_sessions_created_total` of relay `i` (PROTOCOL.md section 1, /metrics).
    std::int64_t sessions_created(int i)
    {
        const auto r = http_get(ports_[i], "/metrics");
        BOOST_TEST_REQUIRE(r.status == 200u);
        const std::string name = "tokenrelay_sessions_created_total ";
        const auto at = r.body.find("\n" + name);
        BOOST_TEST_REQUIRE(at != std::string::npos, r.body);
        return static_cast<std::int64_t>(std::stod(r.body.substr(at + 1 + name.size())));
    }

    std::array<std::int64_t, 2> created() { return {sessions_created(0), sessions_created(1)}; }

private:
    void start_nginx()
    {
        const fs::path source = fs::path(required_env("TOKENRELAY_STATIC_DIR")).parent_path();
        auto site = read_file(source / "deploy/nginx/tokenrelay.conf");
        const std::string listen = "    listen 80;\n";
        const auto at = site.find(listen);
        BOOST_TEST_REQUIRE(at != std::string::npos, "no `listen 80;` in tokenrelay.conf");
        BOOST_TEST_REQUIRE(site.find(listen, at + 1) == std::string::npos);
        nginx_port_ = free_loopback_port();
        site.replace(
            at, listen.size(), "    listen 127.0.0.1:" + std::to_string(nginx_port_) + ";\n"
        );
        dir_.write_file("tokenrelay.conf", site);

        std::string upstreams;
        for (const auto p : ports_)
            upstreams +=
                "server 127.0.0.1:" + std::to_string(p) + " max_fails=3 fail_timeout=10s;\n";
        dir_.write_file("tokenrelay-upstreams.conf", upstreams);

        const auto d = dir_.path().string();
        dir_.write_file(
            "nginx.conf",
            "pid " + d +
                "/nginx.pid;\n"
                "error_log " +
                d +
                "/error.log info;\n"
                "events { worker_connections 1024; }\n"
                "http {\n"
                "    access_log " +
                d +
                "/access.log;\n"
                "    client_body_temp_path " +
                d +
                "/client_body;\n"
                "    proxy_temp_path " +
                d +
                "/proxy;\n"
                "    fastcgi_temp_path " +
                d +
                "/fastcgi;\n"
                "    uwsgi_temp_path " +
                d +
                "/uwsgi;\n"
                "    scgi_temp_path " +
                d +
                "/scgi;\n"
                "    include tokenrelay.conf;\n"
                "}\n"
        );
        nginx_ = test::start_nginx(dir_.path(), nginx_port_, start_timeout);
    }

    temp_dir dir_;
    std::unique_ptr<child_process> mock_;
    std::array<std::unique_ptr<child_process>, 2> relays_;
    std::array<std::uint16_t, 2> ports_{};
    std::unique_ptr<child_process> nginx_;
    std::uint16_t nginx_port_ = 0;
};

/// The affinity cookie's value from a Set-Cookie header, or "".
std::string affinity_from(const std::string& set_cookie)
{
    const auto prefix = affinity_cookie + "=";
    if (set_cookie.rfind(prefix, 0) != 0)
        return {};
    return set_cookie.substr(prefix.size(), set_cookie.find(';') - prefix.size());
}

/// The `data:` payloads' content deltas of an SSE body, concatenated.
std::string sse_content(std::string_view body)
{
    std::string text;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto end = body.find('\n', pos);
        if (end == std::string_view::npos)
            end = body.size();
        const auto line = body.substr(pos, end - pos);
        pos = end + 1;
        if (line.rfind("data: {", 0) != 0)
            continue;
        const auto chunk = json::parse(line.substr(6)).as_object();
        for (const auto& c : chunk.at("choices").as_array()) {
            const auto& delta = c.as_object().at("delta").as_object();
            if (const auto* content = delta.if_contains("content"); content && content->is_string())
                text += std::string(content->as_string());
        }
    }
    return text;
}

BOOST_AUTO_TEST_CASE(chat_and_completions_pass_through_nginx, *scaled_timeout(120))
{
    cluster c;
    const auto before = c.created();

    // A browser on the page's own origin: nginx passes the Host the browser used, so the
    // relay's origin check (PROTOCOL.md section 7) accepts it.
    ws_client ws;
    const auto frame =
        ws.connect(c.port(), "/ws", {{"Origin", "http://127.0.0.1:" + std::to_string(c.port())}});
    BOOST_TEST(frame.at("resumed") == json::value(false), "frame " << frame);
    ws.send(chat_frame("hello"));
    const auto r = ws.collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 w3 w4 w5 w6 w7 ");
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    check_seqs(r, 0);
    ws.close();

    const auto after = c.created();
    BOOST_TEST(after[0] + after[1] == before[0] + before[1] + 1);

    // SSE through nginx: the stream arrives whole and exact.
    const auto sse = http_request(
        c.port(),
        http::verb::post,
        "/v1/chat/completions",
        {{"Content-Type", "application/json"}},
        R"({"messages":[{"role":"user","content":"hi mock:tokens=5"}],"stream":true})"
    );
    BOOST_TEST(sse.status == 200u, sse.body);
    BOOST_TEST(sse.header("Content-Type") == "text/event-stream");
    BOOST_TEST(sse_content(sse.body) == "w0 w1 w2 w3 w4 ");
    BOOST_TEST(sse.body.find("data: [DONE]") != std::string::npos, sse.body);
}

BOOST_AUTO_TEST_CASE(resume_through_nginx_reaches_the_same_instance, *scaled_timeout(120))
{
    cluster c;
    // Several clients, each pinned to an instance by its own cookie: with two instances a
    // resume routed to the wrong one shows in every other round at least.
    constexpr int clients = 6;
    std::array<int, 2> placed{};
    for (int round = 0; round < clients; ++round) {
        BOOST_TEST_CONTEXT("client " << round)
        {
            // The browser loads the page first and gets its affinity cookie there.
            const auto page = http_get(c.port(), "/");
            BOOST_TEST_REQUIRE(page.status == 200u);
            const auto cookie = affinity_from(page.header("Set-Cookie"));
            BOOST_TEST_REQUIRE(cookie.size() == 32u, page.header("Set-Cookie"));
            const header_list with_cookie{{"Cookie", affinity_cookie + "=" + cookie}};
            // A client that has the cookie is not handed another one.
            BOOST_TEST(http_get(c.port(), "/", with_cookie).header("Set-Cookie") == "");

            const auto before = c.created();
            auto a = std::make_unique<ws_client>();
            const auto frame = a->connect(c.port(), "/ws", with_cookie);
            const auto id = string_of(frame, "session");
            const auto after = c.created();
            BOOST_TEST_REQUIRE(after[0] + after[1] == before[0] + before[1] + 1);
            const int home = after[0] > before[0] ? 0 : 1;
            ++placed[home];

            a->send(
                chat_frame("client " + std::to_string(round) + " mock:tokens=40 mock:interval=20")
            );
            seq_follower follow;
            BOOST_TEST_REQUIRE(!follow.read_words(*a, 10));
            a->drop();

            ws_client b;
            check_resumed(
                b.connect(c.port(), resume_target(id, follow.last_seq()), with_cookie),
                id,
                follow.last_seq()
            );
            follow.read_to_end(b);
            follow.check_clean();
            BOOST_TEST(follow.text() == mock_words(40));
            BOOST_TEST(integer(follow.end(), "seq") == 42);
            BOOST_TEST(string_of(follow.end(), "reason") == "stop");
            b.close();
            // The resume created no session anywhere: it found the one it left.
            BOOST_TEST((c.created() == after));
        }
    }
    BOOST_TEST_MESSAGE("clients per instance: " << placed[0] << ", " << placed[1]);
}

BOOST_AUTO_TEST_CASE(new_sessions_spread_over_both_instances, *scaled_timeout(120))
{
    cluster c;
    const auto before = c.created();
    constexpr int sessions = 20;
    std::vector<std::unique_ptr<ws_client>> open;
    for (int i = 0; i < sessions; ++i) {
        open.push_back(std::make_unique<ws_client>());
        const auto frame = open.back()->connect(c.port());
        BOOST_TEST(frame.at("resumed") == json::value(false), "frame " << frame);
    }
    const auto after = c.created();
    const auto on0 = after[0] - before[0];
    const auto on1 = after[1] - before[1];
    BOOST_TEST_MESSAGE("sessions per instance: " << on0 << ", " << on1);
    BOOST_TEST(on0 + on1 == sessions);
    // Each new client hashes by its own request id; all 20 on one of two instances by
    // chance has probability 2^-19.
    BOOST_TEST(on0 > 0);
    BOOST_TEST(on1 > 0);
    for (auto& ws : open)
        ws->close();
}

BOOST_AUTO_TEST_CASE(a_draining_instance_sends_new_sessions_to_the_other, *scaled_timeout(120))
{
    // A long reply on instance 1 keeps it draining (alive, refusing new sessions) for the
    // whole drain timeout, which leaves time for the sessions below on a slow machine too.
    cluster c({"--drain-timeout", "15"});
    ws_client busy;
    busy.connect(c.relay_port(1));
    busy.send(chat_frame("long mock:tokens=5000 mock:interval=20"));
    seq_follower follow;
    BOOST_TEST_REQUIRE(!follow.read_words(busy, 1));

    const auto before = c.created();
    c.relay(1).signal(SIGTERM);
    // Readiness is only observable by asking, and the signal is handled asynchronously.
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    while (http_get(c.relay_port(1), "/readyz").status != 503u)
        BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline), "instance 1 stays ready");

    constexpr int sessions = 20;
    std::vector<std::unique_ptr<ws_client>> open;
    for (int i = 0; i < sessions; ++i) {
        open.push_back(std::make_unique<ws_client>());
        const auto frame = open.back()->connect(c.port());
        BOOST_TEST(frame.at("resumed") == json::value(false), "frame " << frame);
    }
    // About half of them hashed to instance 1 first; its 503 sent them on.
    const auto after = c.created();
    BOOST_TEST(after[0] == before[0] + sessions);
    BOOST_TEST(after[1] == before[1]);
    BOOST_TEST(c.relay(1).running());

    // The sessions on the remaining instance work.
    open.front()->send(chat_frame("after the drain"));
    BOOST_TEST(open.front()->collect_reply().text == "w0 w1 w2 w3 w4 w5 w6 w7 ");
    for (auto& ws : open)
        ws->close();

    // Instance 1 cuts its reply at the drain timeout and exits cleanly (section 2).
    follow.read_to_end(busy);
    BOOST_TEST(string_of(follow.end(), "reason") == "shutdown");
    const auto status = c.relay(1).wait_exit(30s);
    BOOST_TEST((status && *status == exit_status{.exited = true, .code = 0}));
}

} // namespace
} // namespace tokenrelay::test
