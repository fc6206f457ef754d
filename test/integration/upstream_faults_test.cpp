// What the client sees when the model server misbehaves (PROTOCOL.md sections 2 and 6),
// driven by mock_upstream's fault directives and by sockets that never answer; and the
// relay's other deadlines, where a client is the peer that stalls.

#include "support/raw_socket.hpp"
#include "support/relay_fixture.hpp"
#include "support/test_ca.hpp"
#include "support/test_env.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <poll.h>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

using clock = std::chrono::steady_clock;

const std::string default_text = "w0 w1 w2 w3 w4 w5 w6 w7 ";

json::object chat(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

/// One error frame with `code` and then a stream_end with `reason` (the error arrives
/// before the end marker, section 2's upstream_error and timeout rows).
void expect_failed_reply(const reply& r, std::string_view code, std::string_view reason)
{
    BOOST_TEST_REQUIRE(r.errors.size() == 1u, "errors: " << r.errors.size());
    BOOST_TEST(string_of(r.errors[0], "code") == code);
    BOOST_TEST(string_of(r.end, "reason") == reason);
    BOOST_TEST(string_of(r.end, "reason") != "stop");
    // The error comes before the stream_end.
    BOOST_TEST(string_of(r.frames.back(), "type") == "stream_end");
}

BOOST_AUTO_TEST_CASE(http_500_is_upstream_error_after_retries, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("fail mock:status=500"));
    const auto r = s->collect_reply(40s);
    BOOST_TEST(r.text.empty());
    expect_failed_reply(r, "upstream_error", "upstream_error");
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("500") != std::string::npos, message);
    BOOST_TEST(message.find("mock failure 500") != std::string::npos, message);
    BOOST_TEST(check_seqs(r, 0) == 2);
    // Section 6: 5xx is retried before the first token, at most 5 attempts in all.
    const auto requests = integer(f.mock_stats(), "requests");
    BOOST_TEST(requests >= 2);
    BOOST_TEST(requests <= 5);
}

BOOST_AUTO_TEST_CASE(http_400_is_not_retried, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("fail mock:status=400"));
    const auto r = s->collect_reply();
    expect_failed_reply(r, "upstream_error", "upstream_error");
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("400") != std::string::npos, message);
    BOOST_TEST(message.find("mock failure 400") != std::string::npos, message);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
    // The session goes on.
    s->send(chat("again mock:tokens=1"));
    const auto ok = s->collect_reply();
    BOOST_TEST(ok.text == "w0 ");
    BOOST_TEST(check_seqs(ok, 2) == 5);
}

BOOST_AUTO_TEST_CASE(http_429_twice_then_success, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("retry me mock:fail_first=2"));
    const auto r = s->collect_reply(30s);
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == default_text);
    BOOST_TEST(check_seqs(r, 0) == 10);
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    const auto stats = f.mock_stats();
    BOOST_TEST(integer(stats, "requests") == 3);
    // Two 429 answers and one stream, each read to its end by the relay.
    BOOST_TEST(integer(stats, "completed") == 3);
    BOOST_TEST(integer(stats, "aborted") == 0);
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    const auto t0 = std::chrono::steady_clock::now();
    s->send(chat("wait for it mock:fail_first=1 mock:fail_status=503 mock:retry_after=1"));
    const auto r = s->collect_reply(30s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.text == default_text);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 2);
    BOOST_TEST((elapsed >= 1s), "retried after " << elapsed.count() << " ns");
    BOOST_TEST(integer(r.end.at("timing").as_object(), "ttft_ms") >= 1000);
}

BOOST_AUTO_TEST_CASE(persistent_429_gives_up, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("never mock:fail_first=100"));
    const auto r = s->collect_reply(40s);
    expect_failed_reply(r, "upstream_error", "upstream_error");
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("429") != std::string::npos, message);
    const auto requests = integer(f.mock_stats(), "requests");
    BOOST_TEST(requests >= 2);
    BOOST_TEST(requests <= 5);
}

BOOST_AUTO_TEST_CASE(disconnect_mid_stream_keeps_partial_text, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("cut mock:disconnect_after=3"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 ");
    expect_failed_reply(r, "upstream_error", "upstream_error");
    BOOST_TEST(check_seqs(r, 0) == 5);
    // Never retried after the first token (section 6).
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

BOOST_AUTO_TEST_CASE(stall_after_tokens_times_out, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--token-timeout", "1"}}};
    auto s = f.open_session();
    const auto t0 = std::chrono::steady_clock::now();
    s->send(chat("stall mock:stall_after=2"));
    const auto r = s->collect_reply(20s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.text == "w0 w1 ");
    expect_failed_reply(r, "timeout", "timeout");
    BOOST_TEST(check_seqs(r, 0) == 4);
    BOOST_TEST((elapsed >= 1s));
    // The upstream request is closed.
    BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") == 1);
}

BOOST_AUTO_TEST_CASE(no_first_token_times_out, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--first-token-timeout", "1"}}};
    for (const char* mode : {"mock:never_answer", "mock:stall"}) {
        BOOST_TEST_CONTEXT(mode)
        {
            f.mock_reset();
            auto s = f.open_session();
            s->send(chat(std::string("wait ") + mode));
            const auto r = s->collect_reply(20s);
            BOOST_TEST(r.text.empty());
            expect_failed_reply(r, "timeout", "timeout");
            BOOST_TEST(check_seqs(r, 0) == 2);
            BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") >= 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(broken_streams_are_upstream_errors, *scaled_timeout(60))
{
    relay_fixture f;
    struct variant
    {
        const char* directive;
        const char* text;
        const char* in_message; // expected in the error message, or ""
    };
    const variant variants[] = {
        {"mock:malformed", "w0 ", ""},
        {"mock:error_event", "w0 ", "mock stream error"},
        // Section 6: no [DONE] and no finish_reason is never a clean stop.
        {"mock:no_done", "w0 w1 w2 w3 w4 w5 w6 w7 ", ""},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.directive)
        {
            auto s = f.open_session();
            s->send(chat(std::string("broken ") + v.directive));
            const auto r = s->collect_reply();
            BOOST_TEST(r.text == v.text);
            expect_failed_reply(r, "upstream_error", "upstream_error");
            check_seqs(r, 0);
            const auto message = string_of(r.errors[0], "message");
            BOOST_TEST(message.find(v.in_message) != std::string::npos, message);
        }
    }
}

BOOST_AUTO_TEST_CASE(endless_line_is_upstream_error_and_relay_stays_healthy, *scaled_timeout(90))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("flood mock:nonewline=10000000"));
    const auto r = s->collect_reply(60s);
    BOOST_TEST(r.text.empty());
    expect_failed_reply(r, "upstream_error", "upstream_error");

    BOOST_TEST(http_get(f.port(), "/healthz").status == 200u);
    s->send(chat("after the flood mock:tokens=2"));
    const auto ok = s->collect_reply();
    BOOST_TEST(ok.text == "w0 w1 ");
    BOOST_TEST(string_of(ok.end, "reason") == "stop");
}

BOOST_AUTO_TEST_CASE(echoed_key_is_redacted, *scaled_timeout(60))
{
    // The mock answers 401 quoting the Authorization header it got: the relay must not pass
    // the key on (ws_client fails on any frame that contains it).
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("leak mock:echo_auth_error"));
    const auto r = s->collect_reply();
    expect_failed_reply(r, "upstream_error", "upstream_error");
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("401") != std::string::npos, message);
    BOOST_TEST(message.find("[redacted]") != std::string::npos, message);
    BOOST_TEST(message.find(std::string(test_api_key)) == std::string::npos, message);
    BOOST_TEST(
        string_of(f.mock_stats(), "last_authorization") == "Bearer " + std::string(test_api_key)
    );
}

BOOST_AUTO_TEST_CASE(cancel_closes_the_upstream_request, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    auto msg = chat("long mock:tokens=200 mock:interval=50");
    msg["id"] = "c-1";
    s->send(msg);
    const auto first = s->read_until("token");
    BOOST_TEST(string_of(first, "content") == "w0 ");
    s->send({{"type", "cancel"}, {"id", "c-1"}});
    const auto r = s->collect_reply(30s, {first});

    BOOST_TEST(r.errors.empty());
    BOOST_TEST(string_of(r.end, "reason") == "cancelled");
    BOOST_TEST(string_of(r.end, "id") == "c-1");
    check_seqs(r, 1); // after the user frame, which read_until skipped
    std::string full;
    for (int i = 0; i < 200; ++i)
        full += "w" + std::to_string(i) + " ";
    BOOST_TEST(full.starts_with(r.text), r.text);
    BOOST_TEST(r.text.size() < full.size());
    BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") == 1);

    // Section 4: the cancelled reply joins the history as far as it got.
    s->send(chat("next mock:tokens=1"));
    const auto next = s->collect_reply();
    BOOST_TEST(next.text == "w0 ");
    const auto stats = f.mock_stats();
    const auto& messages = stats.at("last_body").as_object().at("messages").as_array();
    BOOST_TEST_REQUIRE(messages.size() >= 3u);
    const auto& kept = messages[messages.size() - 2].as_object();
    BOOST_TEST(string_of(kept, "role") == "assistant");
    const auto kept_text = string_of(kept, "content");
    BOOST_TEST(kept_text.starts_with(r.text), kept_text);
    BOOST_TEST(full.starts_with(kept_text), kept_text);
}

BOOST_AUTO_TEST_CASE(client_disconnect_keeps_reading_upstream, *scaled_timeout(60))
{
    // Section 3: a dropped connection leaves the session and its generation alive for the
    // resume window (60 s by default), so the upstream is read to its end, not aborted.
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("keep going mock:tokens=20 mock:interval=50"));
    s->read_until("token");
    s->drop();
    const auto stats = f.mock_wait("completed", 1, 10000);
    BOOST_TEST(integer(stats, "aborted") == 0);
}

BOOST_AUTO_TEST_CASE(resume_window_end_aborts_the_upstream, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--resume-window", "0.5"}}};
    auto s = f.open_session();
    s->send(chat("forever mock:stall_after=1"));
    s->read_until("token");
    BOOST_TEST(integer(f.mock_stats(), "aborted") == 0);
    s->drop();
    const auto stats = f.mock_wait("aborted", 1, 10000);
    BOOST_TEST(integer(stats, "aborted") == 1);
    BOOST_TEST(integer(stats, "completed") == 0);
}

struct tls_case
{
    temp_dir dir;
    test_certs certs = make_test_certs(dir.path());
};

BOOST_AUTO_TEST_CASE(https_upstream_with_test_ca, *scaled_timeout(60))
{
    tls_case t;
    for (const char* host : {"127.0.0.1", "localhost"}) {
        BOOST_TEST_CONTEXT("upstream host " << host)
        {
            relay_fixture f{{
                .flags = {"--upstream-ca", t.certs.ca_cert.string()},
                .tls = mock_tls{t.certs.server_cert, t.certs.server_key},
                .upstream_host = host,
            }};
            auto s = f.open_session();
            s->send(chat("over tls"));
            const auto r = s->collect_reply();
            BOOST_TEST(r.errors.empty());
            BOOST_TEST(r.text == default_text);
            BOOST_TEST(string_of(r.end, "reason") == "stop");
            BOOST_TEST(integer(f.mock_stats(), "completed") == 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(https_upstream_with_wrong_host_is_refused, *scaled_timeout(60))
{
    tls_case t;
    relay_fixture f{{
        .flags = {"--upstream-ca", t.certs.ca_cert.string()},
        .tls = mock_tls{t.certs.wrong_host_cert, t.certs.wrong_host_key},
    }};
    auto s = f.open_session();
    s->send(chat("over tls"));
    const auto r = s->collect_reply(40s);
    BOOST_TEST(r.text.empty());
    expect_failed_reply(r, "upstream_error", "upstream_error");
    // The handshake fails before any request is sent.
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
}

BOOST_AUTO_TEST_CASE(https_upstream_with_untrusted_ca_is_refused, *scaled_timeout(60))
{
    tls_case t;
    relay_fixture f{{.tls = mock_tls{t.certs.server_cert, t.certs.server_key}}};
    auto s = f.open_session();
    s->send(chat("over tls"));
    const auto r = s->collect_reply(40s);
    BOOST_TEST(r.text.empty());
    expect_failed_reply(r, "upstream_error", "upstream_error");
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
}

// ---------------------------------------------------------------------------------------
// Upstreams that accept a connection and then never answer, and other connection faults
// the mock cannot play.

/// tokenrelay alone, pointed at an upstream URL the test chooses (relay_fixture always
/// points it at its own mock). Stopped with SIGTERM at the end, which must exit 0 with the
/// key in none of its output.
class relay_at
{
public:
    explicit relay_at(std::string upstream, std::vector<std::string> flags = {})
    {
        std::vector<std::string> args{
            "--listen",
            "127.0.0.1:0",
            "--static",
            required_env("TOKENRELAY_STATIC_DIR"),
            "--upstream",
            std::move(upstream)};
        args.insert(args.end(), flags.begin(), flags.end());
        relay_ = start_relay(std::move(args));
        port_ = relay_->wait_for_listening(10s);
    }
    ~relay_at()
    {
        relay_->signal(SIGTERM);
        const auto status = relay_->wait_exit(10s);
        const bool clean = status && *status == exit_status{.exited = true, .code = 0};
        BOOST_TEST(clean, "tokenrelay on SIGTERM; its stderr:\n" << relay_->stderr_text());
        const std::string key(test_api_key);
        BOOST_TEST(relay_->stdout_text().find(key) == std::string::npos);
        BOOST_TEST(relay_->stderr_text().find(key) == std::string::npos);
    }
    relay_at(const relay_at&) = delete;
    relay_at& operator=(const relay_at&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string log() const { return relay_->stderr_text(); }

private:
    std::unique_ptr<child_process> relay_;
    std::uint16_t port_ = 0;
};

/// A listening socket nobody accepts from: the kernel completes TCP handshakes into its
/// queue and then nothing is ever read or written, as from a model server that hangs.
/// With backlog 0 and `fill()`, the queue is full and further SYNs go unanswered, as
/// towards a black-holed address.
class silent_upstream
{
public:
    explicit silent_upstream(int backlog) : acceptor_(ioc_)
    {
        const tcp::endpoint at(net::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(at.protocol());
        acceptor_.bind(at);
        acceptor_.listen(backlog);
        acceptor_.non_blocking(true);
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void fill()
    {
        fillers_.emplace_back(ioc_);
        fillers_.back().connect(acceptor_.local_endpoint());
    }

    /// Takes the oldest queued connection and reads it until its client closes it:
    /// what the client had sent, or nothing when no connection was queued or it is still
    /// open after `timeout`.
    std::optional<std::string> read_until_closed(std::chrono::milliseconds timeout)
    {
        error_code ec;
        tcp::socket s(ioc_);
        acceptor_.accept(s, ec);
        if (ec)
            return std::nullopt;
        std::string got;
        const auto deadline = clock::now() + timeout;
        s.non_blocking(true);
        for (;;) {
            char buf[4096];
            const auto n = s.read_some(net::buffer(buf), ec);
            got.append(buf, n);
            if (ec == net::error::eof || ec == net::error::connection_reset)
                return got;
            if (ec && ec != net::error::would_block)
                return std::nullopt;
            if (!ec)
                continue;
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
            pollfd p{s.native_handle(), POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return std::nullopt;
        }
    }

private:
    net::io_context ioc_;
    tcp::acceptor acceptor_;
    std::vector<tcp::socket> fillers_;
};

BOOST_AUTO_TEST_CASE(silent_upstreams_end_at_the_earlier_deadline, *scaled_timeout(120))
{
    // Section 2: no first token within --first-token-timeout is `timeout`, whatever stage
    // the upstream hangs in; --upstream-connect-timeout bounds the TCP connect and the TLS
    // handshake together, and past it (retries spent) the failure is `upstream_error`.
    struct variant
    {
        const char* name;
        const char* scheme;
        bool syns_unanswered; // the TCP connect itself hangs
        std::vector<std::string> flags;
        const char* code;
        const char* message;
        std::chrono::milliseconds at_least;
    };
    const std::vector<variant> variants{
        {"plain HTTP, request never answered",
         "http",
         false,
         {"--first-token-timeout", "1"},
         "timeout",
         "no first token within 1s",
         1s},
        {"TLS handshake never answered",
         "https",
         false,
         {"--first-token-timeout", "1"},
         "timeout",
         "no first token within 1s",
         1s},
        {"TCP connect never answered",
         "http",
         true,
         {"--first-token-timeout", "1"},
         "timeout",
         "no first token within 1s",
         1s},
        {"TLS handshake past the connect timeout",
         "https",
         false,
         {"--upstream-connect-timeout", "0.5", "--upstream-max-retries", "0"},
         "upstream_error",
         "upstream TLS handshake failed: timed out",
         500ms},
        {"TCP connect past the connect timeout",
         "http",
         true,
         {"--upstream-connect-timeout", "0.5", "--upstream-max-retries", "0"},
         "upstream_error",
         "upstream unreachable: timed out",
         500ms},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.name)
        {
            silent_upstream upstream(v.syns_unanswered ? 0 : 16);
            if (v.syns_unanswered)
                upstream.fill();
            relay_at relay(
                std::string(v.scheme) + "://127.0.0.1:" + std::to_string(upstream.port()) + "/v1",
                v.flags
            );
            ws_client ws;
            ws.connect(relay.port());
            const auto t0 = clock::now();
            ws.send(chat("anyone there?"));
            const auto r = ws.collect_reply(20s);
            const auto elapsed = clock::now() - t0;
            BOOST_TEST(r.text.empty());
            expect_failed_reply(r, v.code, v.code);
            BOOST_TEST(string_of(r.errors[0], "message") == v.message, relay.log());
            BOOST_TEST(check_seqs(r, 0) == 2);
            BOOST_TEST((elapsed >= v.at_least), (elapsed / 1ms) << " ms");
            // Before the defaults these flags lower (a 10 s connect, a 30 s first token)
            // would have ended it, with room for a slow machine.
            BOOST_TEST((elapsed < 8s), (elapsed / 1ms) << " ms");
            if (v.syns_unanswered)
                continue;
            // The relay closed the connection it gave up on (not pooled, not leaked), and
            // it had got as far as it should: a request, or a TLS ClientHello (RFC 8446
            // section 5.1: a handshake record, content type 22).
            const auto sent = upstream.read_until_closed(5s);
            BOOST_TEST_REQUIRE(sent.has_value(), "the upstream connection was not closed");
            if (std::string_view(v.scheme) == "https") {
                BOOST_TEST_REQUIRE(!sent->empty());
                BOOST_TEST(static_cast<int>((*sent)[0]) == 22);
            } else {
                BOOST_TEST(sent->starts_with("POST /v1/chat/completions HTTP/1.1\r\n"), *sent);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(plain_http_on_an_https_url_is_a_tls_handshake_failure, *scaled_timeout(60))
{
    child_process mock(required_env("MOCK_UPSTREAM_BIN"), {"--listen", "127.0.0.1:0"});
    const auto mock_port = mock.wait_for_listening(10s);
    relay_at relay("https://127.0.0.1:" + std::to_string(mock_port) + "/v1");
    ws_client ws;
    ws.connect(relay.port());
    ws.send(chat("over tls, supposedly"));
    const auto r = ws.collect_reply(40s);
    BOOST_TEST(r.text.empty());
    expect_failed_reply(r, "upstream_error", "upstream_error");
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.starts_with("upstream TLS handshake failed: "), message);
    // The handshake failed before any request: the mock saw none.
    const auto stats = http_get(mock_port, "/_mock/stats");
    BOOST_TEST_REQUIRE(stats.status == 200u);
    BOOST_TEST(integer(json::parse(stats.body).as_object(), "requests") == 0);
    // The session goes on.
    ws.send(chat("still here?"));
    const auto again = ws.collect_reply(40s);
    expect_failed_reply(again, "upstream_error", "upstream_error");
    mock.signal(SIGTERM);
    BOOST_TEST((mock.wait_exit(5s) == exit_status{.exited = true, .code = 0}));
}

BOOST_AUTO_TEST_CASE(disconnect_before_the_first_token_is_retried, *scaled_timeout(60))
{
    // Section 6: a connection lost before the first token is retried, up to 4 times.
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("cut early mock:disconnect_after=0"));
    const auto r = s->collect_reply(40s);
    BOOST_TEST(r.text.empty());
    expect_failed_reply(r, "upstream_error", "upstream_error");
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.starts_with("upstream connection lost: "), message);
    BOOST_TEST(check_seqs(r, 0) == 2);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 5);
}

// ---------------------------------------------------------------------------------------
// The client side: requests and WebSockets that stall (PROTOCOL.md sections 1 and 5).

BOOST_AUTO_TEST_CASE(stalled_http_requests_are_closed_at_the_header_deadline, *scaled_timeout(60))
{
    // --header-timeout bounds the whole request (headers and body), counted from the
    // connect for the first one, and the wait for the next request on a kept-alive
    // connection. Past it the connection is closed with no
    // answer (the socket is already gone when the timer fires).
    relay_fixture f{{.flags = {"--header-timeout", "1"}}};
    struct variant
    {
        const char* name;
        std::string sent;
        std::string answer_starts; // "" for no answer at all
    };
    const variant variants[] = {
        // Held before its session starts (the listener waits for the first bytes).
        {"connection that never sends", "", ""},
        {"completion body cut short",
         "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":",
         ""},
        {"WebSocket upgrade without its blank line",
         "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
         ""},
        {"kept-alive connection left idle",
         "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
         "HTTP/1.1 200 OK\r\n"},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.name)
        {
            const auto t0 = clock::now();
            raw_socket client(f.port());
            BOOST_TEST_REQUIRE(client.write(v.sent, 5s) == v.sent.size());
            std::string answer;
            const bool closed = client.wait_closed(10s, &answer);
            const auto elapsed = clock::now() - t0;
            BOOST_TEST_REQUIRE(closed, "still open after 10 s");
            BOOST_TEST((elapsed >= 1s), (elapsed / 1ms) << " ms");
            // Before the default --header-timeout (10 s), with room for a slow machine.
            BOOST_TEST((elapsed < 8s), (elapsed / 1ms) << " ms");
            if (v.answer_starts.empty()) {
                BOOST_TEST(answer.empty(), answer);
            } else {
                BOOST_TEST(answer.starts_with(v.answer_starts), answer);
                BOOST_TEST(answer.ends_with("\r\n\r\nok"), answer);
            }
        }
    }
    // Nothing reached the upstream.
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
}

BOOST_AUTO_TEST_CASE(
    websocket_that_answers_nothing_is_dropped_at_the_idle_timeout, *scaled_timeout(60)
)
{
    relay_fixture f{{.flags = {"--idle-timeout", "1"}}};
    const auto t0 = clock::now();
    raw_ws silent(f.port());
    const auto first = silent.read_frame(5s);
    BOOST_TEST_REQUIRE(first.has_value());
    const auto session = json::parse(first->payload).as_object();
    BOOST_TEST(string_of(session, "type") == "session");
    // It never writes, so it answers none of the relay's pings either.
    std::vector<ws_opcode> before_close;
    while (auto frame = silent.read_frame(5s))
        before_close.push_back(frame->opcode);
    const auto elapsed = clock::now() - t0;
    BOOST_TEST((elapsed >= 1s), (elapsed / 1ms) << " ms");
    // Long before the default --idle-timeout (300 s), with room for a slow machine.
    BOOST_TEST((elapsed < 20s), (elapsed / 1ms) << " ms");
    for (const auto op : before_close)
        BOOST_TEST((op == ws_opcode::ping || op == ws_opcode::close), static_cast<int>(op));

    // Section 5: its session stays resumable.
    ws_client back;
    const auto resumed =
        back.connect(f.port(), "/ws?session=" + string_of(session, "session") + "&last_seq=0");
    BOOST_TEST(resumed.at("resumed").as_bool());
    BOOST_TEST(string_of(resumed, "session") == string_of(session, "session"));
}

/// Counts the pings the relay sends on `s` (ws_client answers each with a pong while a
/// read is pending, as every WebSocket client does).
void count_pings(relay_fixture::session& s, int& pings)
{
    s->stream().control_callback([&pings](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::ping)
            ++pings;
    });
}

BOOST_AUTO_TEST_CASE(quiet_websocket_is_pinged_every_ping_interval, *scaled_timeout(60))
{
    // Section 5: proxies cut WebSockets idle for 60 s, so a quiet one is pinged.
    relay_fixture f{{.flags = {"--ping-interval", "0.3"}}};
    auto s = f.open_session();
    int pings = 0;
    count_pings(s, pings);
    BOOST_TEST(!s->try_read(1500ms).has_value());
    // 0.3 s apart: about 5 in 1.5 s; never a flood, never only the keep-alive of the
    // 300 s idle timeout.
    BOOST_TEST(pings >= 3);
    BOOST_TEST(pings <= 6);
}

BOOST_AUTO_TEST_CASE(reply_that_goes_quiet_is_pinged_and_completes, *scaled_timeout(60))
{
    // An idle connection's writer ends and a timer holds its ping; during a
    // reply the writer stays, waiting for tokens, and pings from there when they pause.
    relay_fixture f{{.flags = {"--ping-interval", "0.3"}}};
    auto s = f.open_session();
    s->send(chat("slow mock:tokens=2 mock:interval=1000"));
    // Pings are counted only from here: the first token is a second away.
    int pings = 0;
    count_pings(s, pings);
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    // Two quiet seconds at 0.3 s: about 6 pings, never none.
    BOOST_TEST(pings >= 3);
    BOOST_TEST(pings <= 8);
}

BOOST_AUTO_TEST_CASE(client_reading_a_long_reply_is_pinged_and_kept, *scaled_timeout(60))
{
    // A reply longer than the idle timeout, its tokens 100 ms apart: the client reads and
    // sends nothing, so the relay pings it mid-reply (at half the idle timeout without a
    // read) and its pongs keep the connection.
    relay_fixture f{{.flags = {"--idle-timeout", "1"}}};
    auto s = f.open_session();
    int pings = 0;
    count_pings(s, pings);
    s->send(chat("long mock:tokens=25 mock:interval=100"));
    const auto r = s->collect_reply();
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    BOOST_TEST(pings >= 2);
    // Still connected after the reply: the next chat is answered on it.
    s->send(chat("again mock:tokens=2"));
    const auto again = s->collect_reply();
    BOOST_TEST(again.text == "w0 w1 ");
    BOOST_TEST(string_of(again.end, "reason") == "stop");
}

BOOST_AUTO_TEST_CASE(websocket_that_answers_pings_outlives_the_idle_timeout, *scaled_timeout(60))
{
    // --idle-timeout drops a connection that sends nothing and answers no ping; one that
    // answers stays, however long it has nothing to say.
    relay_fixture f{{.flags = {"--idle-timeout", "1"}}};
    auto s = f.open_session();
    int pings = 0;
    count_pings(s, pings);
    BOOST_TEST(!s->try_read(2500ms).has_value());
    BOOST_TEST(pings >= 2);
    s->send(chat("still here mock:tokens=2"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(string_of(r.end, "reason") == "stop");
}

} // namespace
} // namespace tokenrelay::test
