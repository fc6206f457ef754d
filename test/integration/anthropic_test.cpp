// `--upstream-format anthropic`: the relay speaks the Anthropic Messages API to the mock's
// Anthropic mode (docs/mock_upstream.md) and the client sees the same frames as with an
// OpenAI-compatible upstream (PROTOCOL.md sections 2 and 6).

#include "support/http_client.hpp"
#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

const std::string default_text = "w0 w1 w2 w3 w4 w5 w6 w7 ";

relay_options anthropic_options()
{
    relay_options o;
    o.flags = {"--upstream-format", "anthropic"};
    return o;
}

json::object chat(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

/// POSTs `body` to the OpenAI-compatible endpoint.
http_result post_completion(std::uint16_t port, std::string body)
{
    return http_request(
        port,
        http::verb::post,
        "/v1/chat/completions",
        {{"Content-Type", "application/json"}},
        std::move(body)
    );
}

void expect_upstream_error(const reply& r)
{
    BOOST_TEST_REQUIRE(r.errors.size() == 1u, "errors: " << r.errors.size());
    BOOST_TEST(string_of(r.errors[0], "code") == "upstream_error");
    BOOST_TEST(string_of(r.end, "reason") == "upstream_error");
    BOOST_TEST(string_of(r.frames.back(), "type") == "stream_end");
}

BOOST_AUTO_TEST_CASE(exact_reply_usage_and_headers, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("hello there"));
    const auto r = s->collect_reply();

    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == default_text);
    BOOST_TEST(r.reasoning.empty());
    BOOST_TEST(check_seqs(r, 0) == 10);
    BOOST_TEST(string_of(r.end, "reason") == "stop");

    const auto stats = f.mock_stats();
    BOOST_TEST(integer(stats, "requests") == 1);
    BOOST_TEST(integer(stats, "completed") == 1);
    // Usage: prompt from message_start's input_tokens, completion from message_delta.
    const auto& usage = r.end.at("usage").as_object();
    BOOST_TEST(integer(usage, "completion_tokens") == 8);
    BOOST_TEST(
        integer(usage, "prompt_tokens") == mock_prompt_tokens(stats.at("last_body").as_object())
    );
    // The key travels as x-api-key, never as a bearer token.
    BOOST_TEST(string_of(stats, "last_api_key") == std::string(test_api_key));
    BOOST_TEST(string_of(stats, "last_authorization") == "");
    BOOST_TEST(string_of(stats, "last_anthropic_version") == "2023-06-01");
    const auto& body = stats.at("last_body").as_object();
    BOOST_TEST(body.at("stream") == json::value(true));
    BOOST_TEST(integer(body, "max_tokens") == 4096);
    BOOST_TEST(string_of(body, "model") == "deepseek-v3.2");
    BOOST_TEST(!body.contains("stream_options"));
    const auto& messages = body.at("messages").as_array();
    BOOST_TEST_REQUIRE(!messages.empty());
    BOOST_TEST(
        messages.back() == json::value(json::object{{"role", "user"}, {"content", "hello there"}})
    );
    for (const auto& m : messages)
        BOOST_TEST(m.as_object().at("role") != json::value("system"));
}

BOOST_AUTO_TEST_CASE(thinking_deltas_become_reasoning_frames, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("think mock:reasoning=3 mock:tokens=2"));
    const auto r = s->collect_reply();

    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.reasoning == "r0 r1 r2 ");
    BOOST_TEST(r.text == "w0 w1 ");
    BOOST_TEST(check_seqs(r, 0) == 7);
    BOOST_TEST_REQUIRE(r.tokens.size() == 5u);
    for (std::size_t i = 0; i < r.tokens.size(); ++i)
        BOOST_TEST(string_of(r.tokens[i], "type") == (i < 3 ? "reasoning" : "token"));
    BOOST_TEST(string_of(r.end, "reason") == "stop");
    BOOST_TEST(integer(r.end.at("usage").as_object(), "completion_tokens") == 2);
}

BOOST_AUTO_TEST_CASE(max_tokens_stop_reason_is_length, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("long mock:tokens=3 mock:finish=length"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == "w0 w1 w2 ");
    BOOST_TEST(string_of(r.end, "reason") == "length");
}

BOOST_AUTO_TEST_CASE(tool_use_and_refusal_end_as_tool_calls_and_content_filter, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    for (const auto& [stop_reason, end] :
         {std::pair{"tool_use", "tool_calls"}, std::pair{"refusal", "content_filter"}}) {
        s->send(chat(std::string("ends mock:tokens=2 mock:finish=") + stop_reason));
        const auto r = s->collect_reply();
        BOOST_TEST(r.text == "w0 w1 ");
        BOOST_TEST(string_of(r.end, "reason") == end, stop_reason);
    }
}

BOOST_AUTO_TEST_CASE(the_openai_api_is_translated_both_ways, *scaled_timeout(60))
{
    // Section 9: tools, images and system turns become their Anthropic forms, and the
    // Messages stream comes back as chat.completion.chunks.
    relay_fixture f(anthropic_options());
    const auto r = post_completion(
        f.port(),
        R"({"stream":true,"stream_options":{"include_usage":true},"stop":"END",)"
        R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":)"
        R"({"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"required",)"
        R"("messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[)"
        R"({"type":"text","text":"look mock:tokens=2"},)"
        R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})"
    );
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    const auto sent = f.mock_stats().at("last_body").as_object();
    BOOST_TEST(sent.at("system") == json::value("be brief"));
    BOOST_TEST(sent.at("stop_sequences") == json::parse(R"(["END"])"));
    BOOST_TEST(sent.at("tool_choice") == json::parse(R"({"type":"any"})"));
    BOOST_TEST(
        sent.at("tools") ==
        json::parse(R"([{"name":"get_weather","input_schema":{"type":"object","properties":)"
                    R"({"city":{"type":"string"}}}}])")
    );
    BOOST_TEST(
        sent.at("messages").at(0).at("content").at(1) ==
        json::parse(R"({"type":"image","source":{"type":"base64","media_type":"image/png",)"
                    R"("data":"AAAA"}})")
    );
    // The answer: role, two text deltas, finish, usage, [DONE].
    std::vector<json::object> chunks;
    std::string text;
    for (std::size_t at = 0; (at = r.body.find("data: ", at)) != std::string::npos;) {
        const auto end = r.body.find("\n\n", at);
        const auto data = r.body.substr(at + 6, end - at - 6);
        at = end;
        if (data == "[DONE]")
            break;
        chunks.push_back(json::parse(data).as_object());
        const auto& choices = chunks.back().at("choices").as_array();
        if (!choices.empty())
            if (const auto* c = choices[0].at("delta").as_object().if_contains("content"))
                text += c->as_string();
    }
    BOOST_TEST(text == "w0 w1 ");
    BOOST_TEST_REQUIRE(chunks.size() >= 3u);
    BOOST_TEST(chunks.back().at("choices").as_array().empty());
    BOOST_TEST(chunks.back().at("usage").at("completion_tokens").as_int64() == 2);
    BOOST_TEST(r.body.ends_with("data: [DONE]\n\n"));

    // What has no equivalent is refused, by name, before the upstream is asked.
    const auto requests = integer(f.mock_stats(), "requests");
    const auto refused = post_completion(
        f.port(),
        R"({"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"a"}]})"
    );
    BOOST_TEST(refused.status == 400u);
    BOOST_TEST(json::parse(refused.body).at("error").at("param") == json::value("response_format"));
    BOOST_TEST(integer(f.mock_stats(), "requests") == requests);
}

BOOST_AUTO_TEST_CASE(http_500_is_upstream_error_after_retries, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("fail mock:status=500"));
    const auto r = s->collect_reply(40s);
    BOOST_TEST(r.text.empty());
    expect_upstream_error(r);
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("500") != std::string::npos, message);
    // The message comes from Anthropic's {"type":"error","error":{"message":…}} body.
    BOOST_TEST(message.find("mock failure 500") != std::string::npos, message);
    const auto requests = integer(f.mock_stats(), "requests");
    BOOST_TEST(requests >= 2);
    BOOST_TEST(requests <= 5);
}

BOOST_AUTO_TEST_CASE(overloaded_529_is_retried_then_succeeds, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("busy mock:fail_first=1 mock:fail_status=529"));
    const auto r = s->collect_reply(30s);
    BOOST_TEST(r.errors.empty());
    BOOST_TEST(r.text == default_text);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 2);
}

BOOST_AUTO_TEST_CASE(error_event_mid_stream_is_upstream_error, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("oops mock:error_event"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 ");
    expect_upstream_error(r);
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("overloaded_error: mock stream error") != std::string::npos, message);
    // Not retried: a token had already been sent.
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

BOOST_AUTO_TEST_CASE(stream_without_message_stop_is_upstream_error, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("cut mock:tokens=2 mock:no_done"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 ");
    expect_upstream_error(r);
}

BOOST_AUTO_TEST_CASE(disconnect_mid_stream_is_upstream_error, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("drop mock:disconnect_after=3"));
    const auto r = s->collect_reply();
    BOOST_TEST(r.text == "w0 w1 w2 ");
    expect_upstream_error(r);
}

BOOST_AUTO_TEST_CASE(the_key_echoed_in_an_error_is_redacted, *scaled_timeout(60))
{
    relay_fixture f(anthropic_options());
    auto s = f.open_session();
    s->send(chat("who mock:echo_auth_error"));
    const auto r = s->collect_reply();
    expect_upstream_error(r);
    const auto message = string_of(r.errors[0], "message");
    BOOST_TEST(message.find("401") != std::string::npos, message);
    BOOST_TEST(message.find(std::string(test_api_key)) == std::string::npos, message);
    BOOST_TEST(message.find("invalid key") != std::string::npos, message);
}

} // namespace
} // namespace tokenrelay::test
