// Sessions shared through Redis (PROTOCOL.md section 8): two real relays on one real
// redis-server and one mock upstream. A reply started on one instance is resumed exactly
// on the other; tabs on both instances get every frame; a cancel on one stops the other's
// upstream request; a generator killed with SIGKILL leaves its reply `interrupted` on the
// other, with every stored frame; the store going away leaves the reply streaming on its
// own instance.

#include "support/eventually.hpp"
#include "support/http_client.hpp"
#include "support/metric_samples.hpp"
#include "support/proc_stats.hpp"
#include "support/redis_server.hpp"
#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

std::string store_url(const redis_server& r)
{
    return "redis://127.0.0.1:" + std::to_string(r.port());
}

/// Relay A (with the mock) and relay B on the same mock and the same Redis.
struct two_relays
{
    redis_server redis;
    relay_fixture a;
    std::unique_ptr<child_process> b;
    std::uint16_t b_port = 0;

    explicit two_relays(std::vector<std::string> extra = {}, redis_options store = {})
        : redis(std::move(store)), a(relay_options{.flags = with_store(extra)})
    {
        std::vector<std::string> args{
            "--listen",
            "127.0.0.1:0",
            "--static",
            std::string(std::getenv("TOKENRELAY_STATIC_DIR")),
            "--upstream",
            "http://127.0.0.1:" + std::to_string(a.mock_port()) + "/v1",
        };
        for (auto& f : with_store(extra))
            args.push_back(f);
        b = start_relay(args);
        b_port = b->wait_for_listening(10s);
    }
    ~two_relays()
    {
        if (b)
            b->stop(scaled(10s));
        if (current_test_failed() && b)
            std::cerr << "---- relay B stderr ----\n" << b->stderr_text();
    }

    std::vector<std::string> with_store(std::vector<std::string> extra)
    {
        extra.insert(extra.begin(), {"--store", store_url(redis)});
        return one_address_load(extra);
    }
};

/// A session opened on `port`: its id and the session frame's last_seq.
struct opened
{
    std::unique_ptr<ws_client> ws;
    std::string id;
};

opened open_on(std::uint16_t port)
{
    opened o{std::make_unique<ws_client>(), {}};
    const auto frame = o.ws->connect(port);
    o.id = string_of(frame, "session");
    return o;
}

std::unique_ptr<ws_client> resume_on(
    std::uint16_t port,
    const std::string& id,
    std::int64_t last_seq,
    json::object* frame_out = nullptr
)
{
    auto ws = std::make_unique<ws_client>();
    const auto frame = ws->connect(port, resume_target(id, last_seq));
    BOOST_TEST(string_of(frame, "type") == "session", frame);
    BOOST_TEST(string_of(frame, "session") == id, frame);
    BOOST_TEST(frame.at("resumed") == json::value(true), frame);
    if (frame_out)
        *frame_out = frame;
    return ws;
}

} // namespace

BOOST_AUTO_TEST_SUITE(shared_store)

BOOST_AUTO_TEST_CASE(
    a_reply_started_on_one_instance_resumes_exactly_on_the_other, *scaled_timeout(120)
)
{
    two_relays r;
    auto s = open_on(r.a.port());
    s.ws->send(chat_frame("tell me mock:tokens=60 mock:interval=15"));
    // Half of it on A, then the connection is lost.
    seq_follower on_a;
    on_a.read_words(*s.ws, 20);
    const auto seen = on_a.last_seq();
    s.ws->drop();

    // From the middle, on B: the rest, exactly, from the next seq.
    seq_follower rest(seen);
    auto mid = resume_on(r.b_port, s.id, seen);
    rest.read_to_end(*mid);
    rest.check_clean();
    on_a.check_clean();
    BOOST_TEST(on_a.text() + rest.text() == mock_words(60));
    BOOST_TEST(string_of(rest.end(), "reason") == "stop");

    // From 0 on B (a second tab): everything, the user frame first.
    json::object frame;
    auto all = resume_on(r.b_port, s.id, 0, &frame);
    BOOST_TEST(integer(frame, "last_seq") == integer(rest.end(), "seq"));
    seq_follower whole(0);
    whole.read_to_end(*all);
    whole.check_clean();
    BOOST_TEST(whole.text() == mock_words(60));

    // At the end, on A again: nothing more, and the session frame says where it is.
    auto at_end = resume_on(r.a.port(), s.id, integer(rest.end(), "seq"), &frame);
    BOOST_TEST(integer(frame, "last_seq") == integer(rest.end(), "seq"));
    const auto extra = at_end->try_read(300ms);
    BOOST_TEST(!extra, "a frame after the end: " << *extra);
}

BOOST_AUTO_TEST_CASE(tabs_on_both_instances_get_every_frame_and_the_history, *scaled_timeout(120))
{
    two_relays r;
    auto s = open_on(r.a.port());
    auto on_b = resume_on(r.b_port, s.id, 0);

    // A chat typed on B: B generates, A follows through the store.
    on_b->send(chat_frame("first mock:tokens=150 mock:interval=10"));
    seq_follower fa(0), fb(0);
    fa.read_words(*s.ws, 5);
    // Mid-reply A counts one followed reply, and B, the generator, none.
    BOOST_TEST(scrape_metrics(r.a.port()).at("tokenrelay_store_following_sessions") == 1);
    BOOST_TEST(scrape_metrics(r.b_port).at("tokenrelay_store_following_sessions") == 0);
    fa.read_to_end(*s.ws);
    fb.read_to_end(*on_b);
    fa.check_clean();
    fb.check_clean();
    BOOST_TEST(fa.text() == mock_words(150), "end on A: " << fa.end());
    BOOST_TEST(fb.text() == mock_words(150), "end on B: " << fb.end());
    BOOST_TEST(integer(fa.end(), "seq") == integer(fb.end(), "seq"));
    BOOST_TEST(eventually(
        [&] { return scrape_metrics(r.a.port()).at("tokenrelay_store_following_sessions") == 0; },
        5s
    ));
    // B's appends went out in writes that each carry at least one request.
    const auto mb = scrape_metrics(r.b_port);
    BOOST_TEST(mb.at("tokenrelay_store_writes_total") > 0);
    BOOST_TEST(mb.at("tokenrelay_store_requests_total") >= mb.at("tokenrelay_store_writes_total"));
    BOOST_TEST(mb.at("tokenrelay_store_appends_total") >= 150);

    // The next one typed on A: A generates now, with B's turn in its context.
    s.ws->send(chat_frame("second mock:echo"));
    auto ra = s.ws->collect_reply();
    auto rb = on_b->collect_reply();
    BOOST_TEST(ra.text == rb.text);
    const auto messages = echoed_messages(ra);
    BOOST_REQUIRE(messages.is_array());
    BOOST_REQUIRE_EQUAL(messages.as_array().size(), 3u);
    BOOST_TEST(messages.as_array()[1].at("content").as_string() == mock_words(150));

    // Both instances give the same history.
    s.ws->send(json::object{{"type", "history"}});
    on_b->send(json::object{{"type", "history"}});
    const auto ha = s.ws->read_until("history");
    const auto hb = on_b->read_until("history");
    BOOST_TEST(ha.at("messages") == hb.at("messages"));
    BOOST_TEST(ha.at("messages").as_array().size() == 4u);
}

BOOST_AUTO_TEST_CASE(
    a_cancel_on_one_instance_stops_the_upstream_request_of_the_other, *scaled_timeout(120)
)
{
    two_relays r;
    auto s = open_on(r.a.port());
    auto on_b = resume_on(r.b_port, s.id, 0);
    s.ws->send(chat_frame("long mock:tokens=5000 mock:interval=10"));
    seq_follower fb(0);
    fb.read_words(*on_b, 5);
    on_b->send(json::object{{"type", "cancel"}});
    fb.read_to_end(*on_b);
    BOOST_TEST(string_of(fb.end(), "reason") == "cancelled");
    r.a.mock_wait("aborted", 1, 5000);
    BOOST_TEST(integer(r.a.mock_stats(), "open") == 0);
    auto ra = s.ws->read_until("stream_end");
    BOOST_TEST(string_of(ra, "reason") == "cancelled");
}

BOOST_AUTO_TEST_CASE(
    a_killed_generator_leaves_its_reply_interrupted_on_the_other, *scaled_timeout(120)
)
{
    two_relays r;
    auto s = open_on(r.a.port());
    auto on_b = resume_on(r.b_port, s.id, 0);
    s.ws->send(chat_frame("long mock:tokens=5000 mock:interval=10"));
    seq_follower fb(0);
    fb.read_words(*on_b, 10);
    r.a.relay().signal(SIGKILL);

    // Every frame the store has, then `interrupted`, at the next seq.
    fb.read_to_end(*on_b);
    fb.check_clean();
    BOOST_TEST(string_of(fb.end(), "reason") == "interrupted");
    BOOST_TEST(fb.words() >= 10);
    const auto end_seq = integer(fb.end(), "seq");

    // A resume from 0 elsewhere sees the same frames, then the same end: no seq reused.
    seq_follower again(0);
    auto late = resume_on(r.b_port, s.id, 0);
    again.read_to_end(*late);
    BOOST_TEST(again.text() == fb.text());
    BOOST_TEST(integer(again.end(), "seq") == end_seq);

    // The next chat works, with the interrupted reply in its context.
    on_b->send(chat_frame("after mock:echo"));
    auto next = on_b->collect_reply();
    BOOST_TEST(string_of(next.end, "reason") == "stop");
    const auto messages = echoed_messages(next);
    BOOST_REQUIRE_EQUAL(messages.as_array().size(), 3u);
    BOOST_TEST(messages.as_array()[1].at("content").as_string() == fb.text());
    BOOST_TEST(integer(next.end, "seq") > end_seq);
}

BOOST_AUTO_TEST_CASE(an_unknown_session_is_not_found_on_either_instance, *scaled_timeout(60))
{
    two_relays r;
    for (const auto port : {r.a.port(), r.b_port}) {
        ws_client ws;
        const auto h = ws.handshake(port, resume_target("AAAAAAAAAAAAAAAAAAAAAA", 3));
        BOOST_TEST_REQUIRE(!h.ec, h.ec.message());
        const auto err = ws.read();
        BOOST_TEST(string_of(err, "code") == "session_not_found", err);
        const auto fresh = ws.read();
        BOOST_TEST(string_of(fresh, "type") == "session", fresh);
        BOOST_TEST(fresh.at("resumed") == json::value(false));
    }
}

BOOST_AUTO_TEST_CASE(the_store_down_mid_reply_the_reply_goes_on_here, *scaled_timeout(120))
{
    two_relays r;
    auto s = open_on(r.a.port());
    s.ws->send(chat_frame("long mock:tokens=300 mock:interval=10"));
    seq_follower fa(0);
    fa.read_words(*s.ws, 10);
    r.redis.kill();

    // Streaming goes on from memory to the end.
    fa.read_to_end(*s.ws);
    fa.check_clean();
    BOOST_TEST(fa.text() == mock_words(300));
    BOOST_TEST(string_of(fa.end(), "reason") == "stop");

    // The instance says so, and still serves.
    auto ready = http_get(r.a.port(), "/readyz");
    BOOST_TEST(ready.status == 200);
    BOOST_TEST(ready.body.find("store: down") != std::string::npos, ready.body);
    BOOST_TEST(scrape_metrics(r.a.port()).at("tokenrelay_store_up") == 0);

    // Elsewhere this session cannot be resumed: the store lacks what the client holds.
    ws_client elsewhere;
    const auto h = elsewhere.handshake(r.b_port, resume_target(s.id, integer(fa.end(), "seq")));
    BOOST_TEST_REQUIRE(!h.ec, h.ec.message());
    const auto first = elsewhere.read();
    BOOST_TEST(string_of(first, "code") == "store_unavailable", first);
    BOOST_TEST(string_of(elsewhere.read(), "type") == "session");

    // The store back: new sessions are durable again and resume on the other instance.
    r.redis.restart();
    for (const auto port : {r.a.port(), r.b_port})
        BOOST_REQUIRE(eventually(
            [&] { return http_get(port, "/readyz").body.find("store: up") != std::string::npos; },
            10s
        ));
    auto s2 = open_on(r.a.port());
    s2.ws->send(chat_frame("again mock:tokens=5"));
    auto done = s2.ws->collect_reply();
    BOOST_TEST(done.text == mock_words(5));
    auto on_b = resume_on(r.b_port, s2.id, 0);
    seq_follower fb(0);
    fb.read_to_end(*on_b);
    BOOST_TEST(fb.text() == mock_words(5));
}

BOOST_AUTO_TEST_CASE(no_client_gets_a_frame_before_the_store_holds_it, *scaled_timeout(120))
{
    two_relays r;
    auto s = open_on(r.a.port());
    s.ws->send(chat_frame("long mock:tokens=2000 mock:interval=5"));
    seq_follower fa(0);
    fa.read_words(*s.ws, 10);
    const auto log_key = r.redis.cli({"KEYS", "tr:*:log"});
    BOOST_REQUIRE(log_key.starts_with("tr:{"));

    // Writes held for 1.5 s (reads go on, and the relay's 2 s reply timeout does not
    // pass): whatever the client gets meanwhile must already be in the store.
    const auto paused_at = std::chrono::steady_clock::now();
    BOOST_REQUIRE(r.redis.cli({"CLIENT", "PAUSE", "1500", "WRITE"}) == "OK");
    const auto last = r.redis.cli({"XREVRANGE", log_key, "+", "-", "COUNT", "1"});
    const auto stored = std::stoll(last.substr(0, last.find('-')));
    std::int64_t got = 0;
    const auto until = paused_at + 1000ms;
    while (std::chrono::steady_clock::now() < until) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now()
        );
        auto frame = s.ws->try_read(std::max(left, 1ms));
        if (!frame)
            break;
        if (const auto* seq = frame->if_contains("seq")) {
            got = std::max<std::int64_t>(got, seq->to_number<std::int64_t>());
            BOOST_TEST(got <= stored, "frame " << *frame << " before the store held it");
        }
    }
    // After the pause the reply goes on, durable, to its end.
    const auto end = s.ws->read_until("stream_end");
    BOOST_TEST(string_of(end, "reason") == "stop");
    BOOST_TEST(http_get(r.a.port(), "/readyz").body.find("store: up") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(
    a_store_that_stops_answering_is_down_within_its_timeout_and_back_after, *scaled_timeout(120)
)
{
    two_relays r;
    auto s = open_on(r.a.port());
    s.ws->send(chat_frame("long mock:tokens=400 mock:interval=10"));
    seq_follower fa(0);
    fa.read_words(*s.ws, 10);
    // Connections held open, nothing answered: the 2 s reply timeout marks it down, and
    // the reply goes on from memory without a gap.
    r.redis.pause();
    fa.read_to_end(*s.ws);
    fa.check_clean();
    BOOST_TEST(fa.text() == mock_words(400));
    BOOST_TEST(http_get(r.a.port(), "/readyz").body.find("store: down") != std::string::npos);
    const auto m = scrape_metrics(r.a.port());
    BOOST_TEST(m.at("tokenrelay_store_up") == 0);
    BOOST_TEST(m.at("tokenrelay_store_sessions_local_total") >= 1);
    // The append in flight when Redis stopped answering failed as a timeout.
    BOOST_TEST(m.at("tokenrelay_store_errors_total{kind=\"timeout\"}") >= 1);
    BOOST_TEST(m.at("tokenrelay_store_errors_total{kind=\"refused\"}") == 0);

    r.redis.resume();
    BOOST_REQUIRE(eventually(
        [&] { return http_get(r.a.port(), "/readyz").body.find("store: up") != std::string::npos; },
        15s
    ));
    // The session that went on alone keeps working here.
    s.ws->send(chat_frame("next mock:tokens=3"));
    BOOST_TEST(s.ws->collect_reply().text == mock_words(3));
}

BOOST_AUTO_TEST_CASE(
    keys_and_memory_return_to_baseline_after_the_resume_window, *scaled_timeout(180)
)
{
    two_relays r({"--resume-window", "1"});
    BOOST_TEST(r.redis.cli({"DBSIZE"}) == "0");
    const auto held = [&](std::uint16_t port) {
        const auto m = scrape_metrics(port);
        return m.at("tokenrelay_sessions{state=\"attached\"}") +
               m.at("tokenrelay_sessions{state=\"detached\"}");
    };
    // A round: sessions chatted on A with a tab on B, then closed everywhere. One window
    // later neither instance holds them and Redis holds nothing.
    const auto round = [&](int sessions) {
        for (int i = 0; i < sessions; ++i) {
            auto s = open_on(r.a.port());
            s.ws->send(chat_frame("hello mock:tokens=20"));
            s.ws->collect_reply();
            auto on_b = resume_on(r.b_port, s.id, 0);
            seq_follower fb(0);
            fb.read_to_end(*on_b);
            BOOST_TEST(fb.text() == mock_words(20));
            on_b->close();
            s.ws->close();
        }
        BOOST_TEST(
            eventually([&] { return r.redis.cli({"DBSIZE"}) == "0"; }, 15s),
            r.redis.cli({"KEYS", "*"})
        );
        BOOST_TEST(eventually([&] { return held(r.a.port()) == 0 && held(r.b_port) == 0; }, 15s));
    };
    round(20); // warms the allocator's caches and the connections' buffers
    const auto base_kib = resident_bytes(r.a.relay().pid()) / 1024;
    round(100);
    const auto after_kib = resident_bytes(r.a.relay().pid()) / 1024;
    BOOST_TEST_MESSAGE("relay A: " << base_kib << " KiB before, " << after_kib << " KiB after");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // Without a sanitizer's quarantine or shadow memory, forgotten sessions give their
    // memory back: 100 of them leaked would each hold their log, history and store link.
    BOOST_TEST(
        after_kib <= base_kib + 2 * 1024, after_kib << " KiB after, " << base_kib << " before"
    );
#endif
}

BOOST_AUTO_TEST_CASE(a_password_from_the_environment_never_shows, *scaled_timeout(60))
{
    const std::string password = "s3cret-store-pw";
    redis_server redis(redis_options{.password = password});
    auto relay = start_relay(
        {"--listen", "127.0.0.1:0", "--store", store_url(redis)},
        {{"TOKENRELAY_STORE_PASSWORD", password}}
    );
    const auto port = relay->wait_for_listening(10s);
    BOOST_TEST(eventually(
        [&] { return http_get(port, "/readyz").body.find("store: up") != std::string::npos; }, 10s
    ));
    auto s = open_on(port);
    s.ws->send(chat_frame("hi"));
    s.ws->collect_reply();
    BOOST_TEST(redis.cli({"DBSIZE"}) != "0");
    relay->signal(SIGTERM);
    relay->wait_exit(scaled(10s));
    BOOST_TEST(relay->stderr_text().find(password) == std::string::npos);
    BOOST_TEST(relay->stdout_text().find(password) == std::string::npos);

    // The wrong one: up never, and it says why without the password.
    auto wrong = start_relay(
        {"--listen", "127.0.0.1:0", "--store", store_url(redis), "--log-level", "debug"},
        {{"TOKENRELAY_STORE_PASSWORD", "not-" + password}}
    );
    const auto wrong_port = wrong->wait_for_listening(10s);
    BOOST_TEST(
        eventually(
            [&] { return wrong->stderr_text().find("WRONGPASS") != std::string::npos; }, 10s
        ),
        wrong->stderr_text()
    );
    BOOST_TEST(http_get(wrong_port, "/readyz").body.find("store: down") != std::string::npos);
    BOOST_TEST(wrong->stderr_text().find(password) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(rediss_with_a_test_ca, *scaled_timeout(60))
{
    temp_dir dir;
    const auto certs = make_test_certs(dir.path());
    redis_server redis(redis_options{.tls_cert = certs.server_cert, .tls_key = certs.server_key});
    const auto url = "rediss://127.0.0.1:" + std::to_string(redis.port());
    auto relay = start_relay(
        {"--listen", "127.0.0.1:0", "--store", url, "--store-ca", certs.ca_cert.string()}
    );
    const auto port = relay->wait_for_listening(10s);
    BOOST_TEST(
        eventually(
            [&] { return http_get(port, "/readyz").body.find("store: up") != std::string::npos; },
            10s
        ),
        relay->stderr_text()
    );
    auto s = open_on(port);
    s.ws->send(chat_frame("over tls"));
    BOOST_TEST(!s.ws->collect_reply().text.empty());

    // Without the CA the certificate is not trusted: the store stays down.
    auto untrusting = start_relay({"--listen", "127.0.0.1:0", "--store", url});
    const auto other = untrusting->wait_for_listening(10s);
    BOOST_TEST(
        eventually(
            [&] { return untrusting->stderr_text().find("TLS handshake") != std::string::npos; },
            10s
        ),
        untrusting->stderr_text()
    );
    BOOST_TEST(http_get(other, "/readyz").body.find("store: down") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::test
