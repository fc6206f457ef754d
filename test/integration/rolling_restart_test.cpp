// A rolling restart of two relays that share one Redis store (PROTOCOL.md sections 2, 3
// and 8), behind Debian's nginx balancing round-robin with no affinity: 200 clients chat
// through it while each relay in turn drains on SIGTERM, exits and starts again on its
// port. A client whose connection closes reconnects through nginx, to whichever instance
// that reaches, and resumes with its session and the last seq it saw; half of them also
// lose their connection once mid-reply beforehand, so replies are followed across
// instances when the drains come. Every reply must be exact: whole, or ended `shutdown` or
// `interrupted` after an exact prefix, no seq lost or repeated. After the restart each
// session resumes on a process that never held it (only the store did), and its next chat
// finds the first reply in its history exactly as the client saw it.

#include "support/eventually.hpp"
#include "support/free_port.hpp"
#include "support/http_client.hpp"
#include "support/metric_samples.hpp"
#include "support/nginx.hpp"
#include "support/redis_server.hpp"
#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"
#include "support/soak_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_env.hpp"
#include "support/test_key.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;
using steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int client_count = 200;
// The mock's pause before each token: 10 tokens a second per reply, 2000 a second in all
// while every client streams, which sanitizer builds of both relays keep up with.
constexpr int token_interval_ms = 100;
// Three reply lengths: short ones end before a drain reaches them, medium ones end or are
// cut depending on where and when they run, long ones only a drain ends.
constexpr std::array<int, 3> reply_tokens{15, 40, 1000};
// Below the medium and long replies' length, so each drain cuts replies mid-stream.
const std::string drain_timeout = "1";
// Half the clients lose their connection after the first token, before the restart, as
// on a flaky network: a resume that reaches the other instance follows the reply there
// through the store, so a drain there closes a connection mid-reply, and a drain of the
// generating instance ends a reply that another instance delivers. nginx alternates
// strictly and new clients arrive in about index order, so client i starts on the
// instance of i's parity; droppers two of one parity, then two of the other, send
// resumes from each instance to both.
bool drops_once(int client)
{
    const int k = client % 8;
    return k == 1 || k == 3 || k == 4 || k == 6;
}
// Connections one reconnect may open before the client gives up.
constexpr int max_connects = 30;
constexpr auto start_timeout = 10s;

/// `text` with every occurrence of each placeholder replaced.
std::string
fill(std::string text, const std::vector<std::pair<std::string_view, std::string>>& values)
{
    for (const auto& [placeholder, value] : values)
        for (auto at = text.find(placeholder); at != std::string::npos;
             at = text.find(placeholder, at + value.size()))
            text.replace(at, placeholder.size(), value);
    return text;
}

bool ready_with_store(std::uint16_t port)
{
    try {
        const auto r = http_get(port, "/readyz", {}, {.timeout = 1000ms});
        return r.status == 200u && r.body.find("store: up") != std::string::npos;
    } catch (const std::exception&) {
        return false; // not listening yet
    }
}

/// redis-server, one mock_upstream, relays A and B on fixed ports sharing the store, and
/// nginx in front of both without affinity.
class rolling_cluster
{
public:
    rolling_cluster()
    {
        mock_ = std::make_unique<child_process>(
            required_env("MOCK_UPSTREAM_BIN"), std::vector<std::string>{"--listen", "127.0.0.1:0"}
        );
        mock_port_ = mock_->wait_for_listening(start_timeout);
        for (int i = 0; i < 2; ++i) {
            ports_[i] = free_loopback_port();
            start_relay_on_its_port(i);
        }
        start_nginx();
    }

    ~rolling_cluster()
    {
        if (nginx_)
            nginx_->stop(5s);
        for (auto& r : relays_) {
            if (r)
                r->stop(10s);
        }
        if (mock_)
            mock_->stop(2s);
        if (current_test_failed()) {
            for (const auto& [name, p] : retired_)
                std::cerr << "---- tokenrelay " << name << " (drained) stderr ----\n"
                          << p->stderr_text();
            for (int i = 0; i < 2; ++i)
                if (relays_[i])
                    std::cerr << "---- tokenrelay " << name(i) << " stderr ----\n"
                              << relays_[i]->stderr_text();
            std::cerr << "---- nginx error.log ----\n" << read_file(dir_ / "error.log") << "----\n";
        }
    }

    rolling_cluster(const rolling_cluster&) = delete;
    rolling_cluster& operator=(const rolling_cluster&) = delete;

    static std::string name(int i) { return i == 0 ? "A" : "B"; }
    std::uint16_t port() const noexcept { return nginx_port_; }

    /// Replies relay `i` is generating now (`tokenrelay_running_generations`).
    double running_generations(int i)
    {
        return scrape_metrics(ports_[i]).at("tokenrelay_running_generations");
    }

    /// SIGTERM to relay `i`; it must drain and exit 0 (PROTOCOL.md section 2). Then the
    /// same flags start it again on the same port, and it is ready once it listens and
    /// reaches the store.
    void restart(int i)
    {
        relays_[i]->signal(SIGTERM);
        // The drain timeout, then up to 3 s each for the cut replies to end and for the
        // connections to close.
        const auto status = relays_[i]->wait_exit(15s);
        BOOST_TEST_REQUIRE(
            status.has_value(), "relay " << name(i) << " did not exit after SIGTERM"
        );
        BOOST_TEST(
            (*status == exit_status{.exited = true, .code = 0}),
            "relay " << name(i) << " ended with " << *status
        );
        retired_.emplace_back(name(i), std::move(relays_[i]));
        start_relay_on_its_port(i);
    }

private:
    void start_relay_on_its_port(int i)
    {
        relays_[i] = start_relay(one_address_load(
            {"--listen",
             "127.0.0.1:" + std::to_string(ports_[i]),
             "--static",
             required_env("TOKENRELAY_STATIC_DIR"),
             "--upstream",
             "http://127.0.0.1:" + std::to_string(mock_port_) + "/v1",
             "--store",
             "redis://127.0.0.1:" + std::to_string(redis_.port()),
             "--drain-timeout",
             drain_timeout}
        ));
        BOOST_TEST_REQUIRE(relays_[i]->wait_for_listening(start_timeout) == ports_[i]);
        BOOST_TEST_REQUIRE(
            eventually([&] { return ready_with_store(ports_[i]); }, start_timeout),
            "relay " << name(i) << " is not ready with its store up"
        );
    }

    void start_nginx()
    {
        nginx_port_ = free_loopback_port();
        const auto d = dir_.path().string();
        std::string servers;
        // max_fails=0: a relay that refuses connections while it restarts is not skipped
        // for fail_timeout, so the new process gets clients as soon as it listens.
        for (const auto p : ports_)
            servers += "        server 127.0.0.1:" + std::to_string(p) + " max_fails=0;\n";
        // deploy/nginx/tokenrelay.conf without its affinity: the upgrade headers, no
        // buffering, and a draining relay's 503 sending the upgrade to the other one.
        dir_.write_file(
            "nginx.conf",
            fill(
                R"(pid @DIR@/nginx.pid;
error_log @DIR@/error.log notice;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path @DIR@/client_body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    map $http_upgrade $tokenrelay_connection {
        default upgrade;
        "" "";
    }
    upstream tokenrelay {
@SERVERS@        keepalive 32;
    }
    server {
        listen 127.0.0.1:@PORT@;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $tokenrelay_connection;
        proxy_set_header Host $http_host;
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_connect_timeout 5s;
        proxy_read_timeout 120s;
        proxy_send_timeout 120s;
        proxy_next_upstream error timeout http_503;
        proxy_next_upstream_timeout 10s;
        location / { proxy_pass http://tokenrelay; }
    }
}
)",
                {{"@DIR@", d}, {"@SERVERS@", servers}, {"@PORT@", std::to_string(nginx_port_)}}
            )
        );
        nginx_ = test::start_nginx(dir_.path(), nginx_port_, start_timeout);
    }

    temp_dir dir_;
    redis_server redis_;
    std::unique_ptr<child_process> mock_;
    std::uint16_t mock_port_ = 0;
    std::array<std::unique_ptr<child_process>, 2> relays_;
    std::array<std::uint16_t, 2> ports_{};
    std::vector<std::pair<std::string, std::unique_ptr<child_process>>> retired_;
    std::unique_ptr<child_process> nginx_;
    std::uint16_t nginx_port_ = 0;
};

/// A client gives up: what it last tried and why, reported with its record.
struct client_failure : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

/// The outcome of one read: a frame, or the connection gone (with why).
struct read_result
{
    std::optional<json::object> frame{};
    std::string lost{};
    bool violation = false; // gone because the relay sent what PROTOCOL.md does not allow
};

/// One WebSocket through nginx. Losing it is a result, not an exception: during a restart
/// every client meets it and reconnects.
class relay_link
{
public:
    relay_link(net::any_io_executor executor, std::uint16_t port)
        : port_(port), ws_(std::move(executor))
    {
        ws_.read_message_max(16 * 1024 * 1024);
    }

    /// TCP connect and upgrade on /ws; "" when open, else why not.
    awaitable<std::string> open()
    {
        auto& tcp_layer = beast::get_lowest_layer(ws_);
        tcp_layer.expires_after(scaled(10s));
        const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port_);
        if (auto [ec] = co_await tcp_layer.async_connect(ep, use_tuple); ec)
            co_return "connect: " + ec.message();
        tcp_layer.expires_after(scaled(10s));
        const auto host = "127.0.0.1:" + std::to_string(port_);
        auto [ec] = co_await ws_.async_handshake(host, "/ws", use_tuple);
        if (ec)
            co_return "upgrade: " + ec.message();
        ws_.text(true);
        co_return "";
    }

    awaitable<read_result> read(steady::time_point deadline)
    {
        beast::get_lowest_layer(ws_).expires_at(deadline);
        buffer_.clear();
        auto [ec, n] = co_await ws_.async_read(buffer_, use_tuple);
        if (ec == websocket::error::closed)
            co_return read_result{
                .lost = "closed by the relay with " + std::to_string(ws_.reason().code)};
        if (ec)
            co_return read_result{.lost = "read: " + ec.message()};
        const auto text = beast::buffers_to_string(buffer_.data());
        // PROTOCOL.md section 1: the upstream key never reaches a client.
        if (!ws_.got_text() || text.find(test_api_key) != std::string::npos)
            co_return read_result{.lost = "a forbidden frame: " + text, .violation = true};
        error_code pec;
        auto v = json::parse(text, pec);
        if (pec || !v.is_object() || !string_field(v.as_object(), "type"))
            co_return read_result{
                .lost = "not a JSON object with a type: " + text, .violation = true};
        co_return read_result{.frame = std::move(v.as_object())};
    }

    /// "" when sent, else why not.
    awaitable<std::string> send(const json::object& frame)
    {
        beast::get_lowest_layer(ws_).expires_after(scaled(10s));
        const auto text = json::serialize(frame);
        auto [ec, n] = co_await ws_.async_write(net::buffer(text), use_tuple);
        co_return ec ? "write: " + ec.message() : "";
    }

    awaitable<void> close()
    {
        beast::get_lowest_layer(ws_).expires_after(scaled(5s));
        co_await ws_.async_close(websocket::close_code::normal, use_tuple);
    }

    /// Drops the TCP connection without a close frame, as a reloaded page would.
    void drop()
    {
        error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

private:
    std::uint16_t port_;
    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
};

/// What every client shares. Touched only on the clients' thread, but for the counters.
struct run_env
{
    explicit run_env(net::io_context& ioc, std::uint16_t nginx_port, steady::duration limit)
        : port(nginx_port), deadline(steady::now() + scaled(limit)), restart_over_timer(ioc)
    {
        restart_over_timer.expires_at(steady::time_point::max());
    }

    std::uint16_t port;
    steady::time_point deadline;
    bool restart_over = false;
    net::steady_timer restart_over_timer; // cancelled when the restart is over
    std::atomic<int> ready{0};            // clients streaming, their drop behind them
    std::atomic<int> done{0};             // clients finished or failed
};

/// What one client saw and did: written on the clients' thread, read after it stopped.
struct client_record
{
    int index = 0;
    int tokens = 0; // the mock's tokens for chat 1
    std::string chat1;
    std::string chat2;
    std::string session;
    std::int64_t last_seq = 0;                // highest seq received, in order
    std::map<std::int64_t, std::string> seen; // what each seq carried
    std::int64_t user1 = 0;
    std::int64_t user2 = 0;
    std::optional<json::object> end1;
    std::optional<json::object> end2;
    bool drops = false;     // drops its connection once, after its first token
    int dropped = 0;        // connections it dropped
    int lost = 0;           // connections that closed under the client
    int lost_mid_reply = 0; // of those, before the reply's stream_end
    int resumes = 0;
    std::vector<std::string> problems;
    std::string doing = "not started";
    bool finished = false;
};

/// One client: a chat, followed to its end across reconnects, connected until the restart
/// is over; then a resume and a second chat that echoes the history.
class chat_client
{
public:
    chat_client(run_env& env, client_record& r) : env_(env), r_(r) {}

    awaitable<void> run()
    {
        co_await connect_fresh();
        r_.doing = "sending chat 1";
        const auto chat1 = chat_frame(r_.chat1);
        if (const auto why = co_await link_->send(chat1); !why.empty())
            throw client_failure("chat 1 not sent: " + why);
        co_await follow_reply(1);
        co_await stay_until_restart_over();

        // A reloaded page: its session now lives only in the store and the new processes.
        link_->drop();
        co_await resume(true);
        r_.doing = "sending chat 2";
        const auto chat2 = chat_frame(r_.chat2);
        if (const auto why = co_await link_->send(chat2); !why.empty())
            throw client_failure("chat 2 not sent: " + why);
        co_await follow_reply(2);
        r_.doing = "closing";
        co_await link_->close();
        r_.finished = true;
    }

private:
    void problem(const std::string& what) { r_.problems.push_back(what); }

    void check_deadline()
    {
        if (steady::now() >= env_.deadline)
            throw client_failure("the deadline passed while " + r_.doing);
    }

    awaitable<void> backoff(int attempt)
    {
        net::steady_timer t(co_await net::this_coro::executor);
        t.expires_after(std::min<std::chrono::milliseconds>(attempt * 50ms, 500ms));
        co_await t.async_wait(use_tuple);
    }

    /// A new connection through nginx, retried while a restart refuses it; returns its
    /// session frame.
    awaitable<json::object> open_link()
    {
        std::string why;
        for (int attempt = 1; attempt <= max_connects; ++attempt) {
            check_deadline();
            if (attempt > 1)
                co_await backoff(attempt);
            auto link = std::make_unique<relay_link>(co_await net::this_coro::executor, env_.port);
            if (why = co_await link->open(); !why.empty())
                continue;
            auto first = co_await link->read(std::min(env_.deadline, steady::now() + scaled(10s)));
            if (!first.frame) {
                why = "before the session frame: " + first.lost;
                continue;
            }
            // Section 2: the session frame is the first frame on every connection.
            if (string_field(*first.frame, "type") != "session")
                throw client_failure(
                    "first frame is not `session`: " + json::serialize(*first.frame)
                );
            link_ = std::move(link);
            co_return std::move(*first.frame);
        }
        throw client_failure(
            "no connection after " + std::to_string(max_connects) + " attempts: " + why
        );
    }

    awaitable<void> connect_fresh()
    {
        r_.doing = "connecting";
        const auto frame = co_await open_link();
        r_.session = std::string(string_field(frame, "session").value_or(""));
        const auto* resumed = frame.if_contains("resumed");
        if (r_.session.empty() || !resumed || *resumed != json::value(false))
            throw client_failure("a new connection's session frame: " + json::serialize(frame));
    }

    /// Reconnects and resumes with the `resume` message and the last seq seen (section
    /// 3). `at_end`: nothing after the client's last seq may exist any more.
    awaitable<void> resume(bool at_end)
    {
        for (int attempt = 1; attempt <= max_connects; ++attempt) {
            r_.doing = "resuming";
            co_await open_link();
            const auto ask = resume_frame(r_.session, r_.last_seq);
            if (!(co_await link_->send(ask)).empty())
                continue;
            auto answer =
                co_await link_->read(std::min(env_.deadline, steady::now() + scaled(10s)));
            if (!answer.frame)
                continue; // a relay that drains just now: resume elsewhere
            const auto& f = *answer.frame;
            const auto* resumed = f.if_contains("resumed");
            // Section 8: any instance resumes any session; the store never lost one.
            if (string_field(f, "type") != "session" || string_field(f, "session") != r_.session ||
                !resumed || *resumed != json::value(true))
                throw client_failure(
                    "resume from seq " + std::to_string(r_.last_seq) +
                    " answered: " + json::serialize(f)
                );
            const auto held = int_field(f, "last_seq").value_or(-1);
            const auto first = int_field(f, "first_seq").value_or(-1);
            if (held < r_.last_seq || (at_end && held != r_.last_seq) || first < 1 ||
                first > r_.last_seq + 1)
                problem(
                    "resume from seq " + std::to_string(r_.last_seq) +
                    " got session frame: " + json::serialize(f)
                );
            ++r_.resumes;
            co_return;
        }
        throw client_failure("no resume after " + std::to_string(max_connects) + " attempts");
    }

    /// Reads chat `chat` to its stream_end, resuming whenever the connection goes.
    awaitable<void> follow_reply(int chat)
    {
        auto& end = chat == 1 ? r_.end1 : r_.end2;
        while (!end) {
            r_.doing = "reading chat " + std::to_string(chat) + " after seq " +
                       std::to_string(r_.last_seq);
            check_deadline();
            // Tokens come every 100 ms; a lapsed lease is ended within about 6 s.
            auto got = co_await link_->read(std::min(env_.deadline, steady::now() + scaled(15s)));
            if (!got.frame) {
                if (got.violation)
                    problem(got.lost);
                ++r_.lost;
                ++r_.lost_mid_reply;
                co_await resume(false);
                continue;
            }
            take(*got.frame, chat);
            if (chat == 1 && !ready_ && r_.last_seq > r_.user1) {
                if (r_.drops && !end) {
                    ++r_.dropped;
                    link_->drop();
                    co_await resume(false);
                }
                ready_ = true;
                ++env_.ready;
            }
        }
    }

    /// Connected and reading, as an open page is, until the restart is over: a drain
    /// closes the connection and the client resumes elsewhere; no frame may come.
    awaitable<void> stay_until_restart_over()
    {
        while (!env_.restart_over) {
            r_.doing = "waiting for the restart to end";
            auto got = co_await (link_->read(env_.deadline) || restart_over());
            if (got.index() == 1)
                break;
            auto& result = std::get<0>(got);
            if (result.frame) {
                problem("a frame after the reply's stream_end: " + json::serialize(*result.frame));
                continue;
            }
            if (result.violation)
                problem(result.lost);
            check_deadline();
            ++r_.lost;
            co_await resume(true);
        }
    }

    awaitable<void> restart_over()
    {
        if (!env_.restart_over)
            co_await env_.restart_over_timer.async_wait(use_tuple);
    }

    /// One frame of chat `chat`: each seq it carries is recorded once.
    void take(const json::object& frame, int chat)
    {
        const auto type = string_field(frame, "type").value_or("");
        const auto seq = int_field(frame, "seq");
        if (type == "error")
            throw client_failure(
                "error frame in chat " + std::to_string(chat) + ": " + json::serialize(frame)
            );
        if ((type != "user" && type != "token" && type != "stream_end") || !seq) {
            problem(
                "unexpected frame in chat " + std::to_string(chat) + ": " + json::serialize(frame)
            );
            return;
        }
        const auto content = string_field(frame, "content").value_or("");
        // A frame seen before is a problem and nothing more: it neither starts nor ends
        // this chat.
        if (type == "user") {
            if (!record(*seq, "user frame", frame))
                return;
            (chat == 1 ? r_.user1 : r_.user2) = *seq;
            if (content != (chat == 1 ? r_.chat1 : r_.chat2))
                problem("user frame of another chat: " + json::serialize(frame));
        } else if (type == "stream_end") {
            const auto reason = string_field(frame, "reason").value_or("");
            if (record(*seq, "stream_end " + std::string(reason), frame))
                (chat == 1 ? r_.end1 : r_.end2) = frame;
        } else if (chat == 2) {
            record(*seq, std::string(content), frame);
        } else {
            // Section 2: a frame of joined tokens has the seq of its last one. Mock tokens
            // are "w<i> ", one space each.
            const auto words = static_cast<std::int64_t>(word_count(content));
            if (words == 0 || content.back() != ' ') {
                problem("a token frame that is not whole mock words: " + json::serialize(frame));
                return;
            }
            std::int64_t at = *seq - words;
            std::size_t start = 0;
            for (std::size_t i = 0; i < content.size(); ++i) {
                if (content[i] == ' ') {
                    record(++at, std::string(content.substr(start, i + 1 - start)), frame);
                    start = i + 1;
                }
            }
        }
    }

    /// False when `seq` was seen before.
    bool record(std::int64_t seq, std::string what, const json::object& frame)
    {
        const auto s = std::to_string(seq);
        if (const auto it = r_.seen.find(seq); it != r_.seen.end()) {
            problem(
                it->second == what ? "seq " + s + " delivered twice (\"" + what + "\")"
                                   : "seq " + s + " carried \"" + it->second + "\", then \"" +
                                         what + "\" in " + json::serialize(frame)
            );
            return false;
        }
        if (seq != r_.last_seq + 1)
            problem(
                "seq " + s + " after seq " + std::to_string(r_.last_seq) + " (\"" + what +
                "\"): the seqs between were lost"
            );
        r_.seen.emplace(seq, std::move(what));
        r_.last_seq = std::max(r_.last_seq, seq);
        return true;
    }

    run_env& env_;
    client_record& r_;
    std::unique_ptr<relay_link> link_;
    bool ready_ = false;
};

/// Runs the clients' io_context on a thread of its own while the test drives the
/// processes; stops and joins it on every way out.
class client_thread
{
public:
    explicit client_thread(net::io_context& ioc) : ioc_(ioc), thread_([&ioc] { ioc.run(); }) {}
    ~client_thread()
    {
        ioc_.stop();
        thread_.join();
    }
    client_thread(const client_thread&) = delete;
    client_thread& operator=(const client_thread&) = delete;

private:
    net::io_context& ioc_;
    std::thread thread_;
};

/// Everything wrong with one client's record, as lines naming the seq and the texts.
std::vector<std::string> check_client(const client_record& r)
{
    std::vector<std::string> wrong = r.problems;
    if (!r.finished)
        wrong.push_back("did not finish: " + r.doing);
    if (r.lost == 0)
        wrong.push_back("its connection outlived both drains");
    if (!r.end1)
        return wrong;

    // Chat 1, seq by seq against the mock's text: seq user1 + 1 + k must carry "w<k> ".
    // `text` is what the client got, in seq order.
    const auto end1 = int_field(*r.end1, "seq").value_or(0);
    std::string text;
    for (auto seq = r.user1 + 1; seq < end1; ++seq) {
        const auto expected = "w" + std::to_string(seq - r.user1 - 1) + " ";
        const auto it = r.seen.find(seq);
        if (it == r.seen.end()) {
            wrong.push_back("seq " + std::to_string(seq) + " (\"" + expected + "\") never came");
            continue;
        }
        if (it->second != expected)
            wrong.push_back(
                "seq " + std::to_string(seq) + " carried \"" + it->second +
                "\" where the mock sent \"" + expected + "\""
            );
        text += it->second;
    }
    const auto all = mock_words(r.tokens);
    const auto reason = string_field(*r.end1, "reason").value_or("");
    if (r.user1 != 1)
        wrong.push_back("chat 1's user frame has seq " + std::to_string(r.user1));
    if (reason == "stop") {
        if (text != all)
            wrong.push_back(
                "reply ended `stop` with " + std::to_string(word_count(text)) + " of " +
                std::to_string(r.tokens) + " words: \"" + text + "\""
            );
    } else if (reason == "shutdown" || reason == "interrupted") {
        if (!all.starts_with(text) || text.empty())
            wrong.push_back("reply ended `" + std::string(reason) + "` after \"" + text + "\"");
    } else {
        wrong.push_back("chat 1 ended with " + json::serialize(*r.end1));
    }
    if (!r.end2)
        return wrong;

    // Chat 2 echoes what the relay sent upstream: the session's history, then the chat.
    const auto end2 = int_field(*r.end2, "seq").value_or(0);
    if (r.user2 != end1 + 1 || string_field(*r.end2, "reason") != "stop") {
        wrong.push_back(
            "chat 2: user frame at seq " + std::to_string(r.user2) + " after chat 1's end at " +
            std::to_string(end1) + ", ended with " + json::serialize(*r.end2)
        );
        return wrong;
    }
    std::string echoed;
    for (auto seq = r.user2 + 1; seq < end2; ++seq)
        if (const auto it = r.seen.find(seq); it != r.seen.end())
            echoed += it->second;
    const json::array expected{
        turn("user", r.chat1), turn("assistant", text), turn("user", r.chat2)};
    error_code ec;
    const auto got = json::parse(echoed, ec);
    bool same = !ec && got.is_array() && got.as_array().size() == expected.size();
    for (std::size_t i = 0; same && i < expected.size(); ++i) {
        const auto& m = got.as_array()[i];
        same = m.is_object() && m.as_object().if_contains("role") &&
               m.as_object().at("role") == expected[i].at("role") &&
               m.as_object().if_contains("content") &&
               m.as_object().at("content") == expected[i].at("content");
    }
    if (!same)
        wrong.push_back(
            "history after the restart: upstream got " + echoed + ", expected " +
            json::serialize(expected)
        );
    return wrong;
}

} // namespace

BOOST_AUTO_TEST_CASE(
    a_rolling_restart_behind_nginx_loses_and_repeats_no_token, *scaled_timeout(240)
)
{
    const auto started = steady::now();
    rolling_cluster c;

    std::vector<client_record> records(client_count);
    for (int i = 0; i < client_count; ++i) {
        auto& r = records[static_cast<std::size_t>(i)];
        r.index = i;
        r.tokens = reply_tokens[static_cast<std::size_t>(i) % reply_tokens.size()];
        r.chat1 = "client " + std::to_string(i) + " mock:tokens=" + std::to_string(r.tokens) +
                  " mock:interval=" + std::to_string(token_interval_ms);
        r.chat2 = "client " + std::to_string(i) + " again mock:echo";
        r.drops = drops_once(i);
    }
    // Declared after the records and before the env: unfinished clients' frames, destroyed
    // with it, hold references to both.
    net::io_context ioc;
    run_env env(ioc, c.port(), 120s);
    for (auto& r : records) {
        net::co_spawn(
            ioc,
            [&env, &r]() -> awaitable<void> {
                chat_client client(env, r);
                co_await client.run();
            },
            [&env, &r](std::exception_ptr e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                        r.problems.push_back("gave up while " + r.doing + ": " + x.what());
                    } catch (...) {
                        r.problems.push_back("gave up while " + r.doing);
                    }
                }
                ++env.done;
            }
        );
    }
    std::array<double, 2> running_at_signal{};
    {
        client_thread clients(ioc);
        // Every reply is streaming, and every drop resumed, before the first signal. A
        // client that gave up before is in the report below.
        BOOST_TEST(
            eventually([&] { return env.ready.load() + env.done.load() >= client_count; }, 30s),
            env.ready.load() << " of " << client_count << " clients streaming"
        );
        for (int i = 0; i < 2; ++i) {
            running_at_signal[static_cast<std::size_t>(i)] = c.running_generations(i);
            c.restart(i);
        }
        net::post(ioc, [&env] {
            env.restart_over = true;
            env.restart_over_timer.cancel();
        });
        BOOST_TEST(
            eventually([&] { return env.done.load() == client_count; }, 120s),
            env.done.load() << " of " << client_count << " clients done"
        );
    }

    int whole = 0;
    int cut = 0;
    int lost = 0;
    int lost_mid_reply = 0;
    int dropped = 0;
    int resumes = 0;
    int failed = 0;
    std::ostringstream report;
    for (const auto& r : records) {
        if (r.end1)
            (string_field(*r.end1, "reason") == "stop" ? whole : cut) += 1;
        lost += r.lost;
        lost_mid_reply += r.lost_mid_reply;
        dropped += r.dropped;
        resumes += r.resumes;
        const auto wrong = check_client(r);
        if (!wrong.empty() && ++failed <= 20) {
            report << "\n  client " << r.index << " (" << r.tokens << " tokens, session "
                   << r.session.substr(0, 6) << "…):";
            for (const auto& w : wrong)
                report << "\n    " << w;
        }
    }
    BOOST_TEST(failed == 0, failed << " of " << client_count << " clients wrong:" << report.str());

    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
    BOOST_TEST_MESSAGE(
        "rolling restart: " << took.count() << " ms; generations running at the signals: A "
                            << running_at_signal[0] << ", B " << running_at_signal[1]
                            << "; replies whole " << whole << ", cut " << cut
                            << "; connections lost " << lost << " (" << lost_mid_reply
                            << " mid-reply), dropped mid-reply " << dropped << ", resumes "
                            << resumes
    );
    // Not vacuous: both drains met streaming replies, and cut some of them.
    BOOST_TEST(running_at_signal[0] >= 10);
    BOOST_TEST(running_at_signal[1] >= 10);
    BOOST_TEST(cut >= client_count / 10);
    BOOST_TEST(whole >= 1);
    // Replies resumed mid-stream, and a drain closed connections whose reply went on.
    BOOST_TEST(dropped == client_count / 2);
    BOOST_TEST(lost_mid_reply >= 1);
}

} // namespace tokenrelay::test
