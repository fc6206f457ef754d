// The upstream key never leaves the relay, not even when a successful reply carries it
// (an upstream that echoes request headers): whole, or split across tokens at any size,
// on the WebSocket and through POST /v1/chat/completions (PROTOCOL.md section 1).

#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::test {
namespace {

using namespace std::chrono_literals;

// The redaction replaces any run of the key's first half or more (stream_redactor.hpp);
// a shorter start, like a key's public prefix, may pass.
const std::size_t min_run = test_api_key.size() / 2;

bool holds_key_run(const std::string& text)
{
    return text.find(test_api_key.substr(0, min_run)) != std::string::npos;
}

BOOST_AUTO_TEST_CASE(a_reply_that_echoes_the_key_reaches_the_client_redacted, *scaled_timeout(60))
{
    relay_fixture f;
    auto s = f.open_session();
    // Whole in one token, then in pieces of every size from one byte up.
    for (const int piece : {1000, 1, 2, 3, 5, 7, 11, 12, 13, 23}) {
        BOOST_TEST_CONTEXT("tokens of " << piece << " bytes")
        {
            s->send(chat_frame("say it mock:echo_key=" + std::to_string(piece)));
            const auto r = s->collect_reply();
            BOOST_TEST(string_of(r.end, "reason") == "stop");
            BOOST_TEST(!holds_key_run(r.text), r.text);
            BOOST_TEST(r.text.starts_with("key "), r.text);
            BOOST_TEST(r.text.ends_with("[redacted] end "), r.text);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_completion_that_echoes_the_key_is_redacted_too, *scaled_timeout(60))
{
    relay_fixture f;
    for (const bool stream : {true, false}) {
        for (const int piece : {1000, 3}) {
            BOOST_TEST_CONTEXT("stream " << stream << ", tokens of " << piece << " bytes")
            {
                const auto body =
                    std::string(R"({"model":"deepseek-v3.2","stream":)") +
                    (stream ? "true" : "false") +
                    R"(,"messages":[{"role":"user","content":"say it mock:echo_key=)" +
                    std::to_string(piece) + R"("}]})";
                const auto r = http_request(
                    f.port(),
                    http::verb::post,
                    "/v1/chat/completions",
                    {{"Content-Type", "application/json"}},
                    body
                );
                BOOST_TEST(r.status == 200u);
                BOOST_TEST(r.body.find("[redacted]") != std::string::npos, r.body);
                BOOST_TEST(!holds_key_run(r.body), r.body);
            }
        }
    }
}

} // namespace
} // namespace tokenrelay::test
