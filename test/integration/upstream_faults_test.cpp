// What the client sees when the model server misbehaves (PROTOCOL.md sections 2 and 6),
// driven by mock_upstream's fault directives.

#include "support/relay_fixture.hpp"
#include "support/test_ca.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

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

BOOST_AUTO_TEST_CASE(http_500_is_upstream_error_after_retries, *ut::timeout(60))
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
    BOOST_TEST(check_seqs(r, 0) == 1);
    // Section 6: 5xx is retried before the first token, at most 5 attempts in all.
    const auto requests = integer(f.mock_stats(), "requests");
    BOOST_TEST(requests >= 2);
    BOOST_TEST(requests <= 5);
}

BOOST_AUTO_TEST_CASE(http_400_is_not_retried, *ut::timeout(60))
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
    BOOST_TEST(check_seqs(ok, 1) == 3);
}

BOOST_AUTO_TEST_CASE(http_429_twice_then_success, *ut::timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("retry me mock:fail_first=2"));
    const auto r = s->collect_reply(30s);
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == default_text);
    BOOST_TEST(check_seqs(r, 0) == 9);
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    const auto stats = f.mock_stats();
    BOOST_TEST(integer(stats, "requests") == 3);
    // Two 429 answers and one stream, each read to its end by the relay.
    BOOST_TEST(integer(stats, "completed") == 3);
    BOOST_TEST(integer(stats, "aborted") == 0);
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(persistent_429_gives_up, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(disconnect_mid_stream_keeps_partial_text, *ut::timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    s->send(chat("cut mock:disconnect_after=3"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 ");
    expect_failed_reply(r, "upstream_error", "upstream_error");
    BOOST_TEST(check_seqs(r, 0) == 4);
    // Never retried after the first token (section 6).
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

BOOST_AUTO_TEST_CASE(stall_after_tokens_times_out, *ut::timeout(60))
{
    relay_fixture f{{.flags = {"--token-timeout", "1"}}};
    auto s = f.open_session();
    const auto t0 = std::chrono::steady_clock::now();
    s->send(chat("stall mock:stall_after=2"));
    const auto r = s->collect_reply(20s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.text == "w0 w1 ");
    expect_failed_reply(r, "timeout", "timeout");
    BOOST_TEST(check_seqs(r, 0) == 3);
    BOOST_TEST((elapsed >= 1s));
    // The upstream request is closed.
    BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") == 1);
}

BOOST_AUTO_TEST_CASE(no_first_token_times_out, *ut::timeout(60))
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
            BOOST_TEST(check_seqs(r, 0) == 1);
            BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") >= 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(broken_streams_are_upstream_errors, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(endless_line_is_upstream_error_and_relay_stays_healthy, *ut::timeout(90))
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

BOOST_AUTO_TEST_CASE(echoed_key_is_redacted, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(cancel_closes_the_upstream_request, *ut::timeout(60))
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
    check_seqs(r, 0);
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

BOOST_AUTO_TEST_CASE(client_disconnect_keeps_reading_upstream, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(resume_window_end_aborts_the_upstream, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(https_upstream_with_test_ca, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(https_upstream_with_wrong_host_is_refused, *ut::timeout(60))
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

BOOST_AUTO_TEST_CASE(https_upstream_with_untrusted_ca_is_refused, *ut::timeout(60))
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

} // namespace
} // namespace tokenrelay::test
