#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/mock/stream_writer.hpp>
#include <testing/mock/whole_answer.hpp>

namespace mock = tokenrelay::mock;
namespace json = boost::json;

namespace {

mock::chat_input input(std::string last_content = "hi")
{
    mock::chat_input in;
    in.model_json = R"("m")";
    in.messages_json = R"([{"role":"user","content":")" + last_content + R"("}])";
    in.last_content = last_content;
    in.prompt_chars = last_content.size();
    return in;
}

std::string answer(const std::string& directives, const mock::chat_input& in = input())
{
    return mock::whole_answer(mock::parse_directives(directives), in, 7, 1700000000);
}

json::value parsed(const std::string& directives, const mock::chat_input& in = input())
{
    return json::parse(answer(directives, in));
}

// The text the stream for the same request carries in its content deltas.
std::string streamed_text(const std::string& directives, const mock::chat_input& in)
{
    mock::stream_writer w(mock::parse_directives(directives), in, 7, 1700000000);
    std::string text;
    while (auto p = w.next()) {
        if (!p->bytes.starts_with("data: {"))
            continue;
        const auto v = json::parse(p->bytes.substr(6));
        const auto* c = v.at("choices").is_array() && !v.at("choices").as_array().empty()
                            ? v.at_pointer("/choices/0/delta").as_object().if_contains("content")
                            : nullptr;
        if (c && c->is_string())
            text += std::string(c->as_string());
    }
    return text;
}

} // namespace

BOOST_AUTO_TEST_SUITE(mock_whole_answer)

BOOST_AUTO_TEST_CASE(exact_bytes_of_a_two_token_answer)
{
    BOOST_TEST(
        answer("mock:tokens=2", input("0123456789")) ==
        R"({"id":"mock-7","object":"chat.completion","created":1700000000,"model":"m",)"
        R"("choices":[{"index":0,"message":{"role":"assistant","content":"w0 w1 "},)"
        R"("logprobs":null,"finish_reason":"stop"}],)"
        R"("usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}})"
    );
}

BOOST_AUTO_TEST_CASE(the_text_is_what_the_stream_would_carry)
{
    auto keyed = input("k mock:echo_key=3");
    keyed.bearer_token = "sk-secret";
    struct
    {
        std::string directives;
        mock::chat_input in;
        std::size_t tokens;
    } const cases[] = {
        {"", input(), 8},
        {"mock:tokens=0", input(), 0},
        {"mock:tokens=3 mock:interval=500 mock:linger=500", input(), 3},
        {"mock:echo", input("say \"hi\" mock:echo"), 1},
        {"mock:huge=130", input(), 3},
        {"mock:echo_key=3", keyed, 6},
        // Stream-only directives change nothing here.
        {"mock:tokens=2 mock:stamp mock:parts mock:groq_usage mock:comments mock:bytewise",
         input(),
         2},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.directives)
        {
            const auto v = parsed(c.directives, c.in);
            const auto expected = streamed_text(
                c.directives.find("stamp") == std::string::npos ? c.directives : "mock:tokens=2",
                c.in
            );
            BOOST_TEST(v.at_pointer("/choices/0/message/content").as_string() == expected);
            BOOST_TEST(v.at_pointer("/usage/completion_tokens") == c.tokens);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_stream_cuts_do_not_apply)
{
    for (const char* d :
         {"mock:stall_after=2",
          "mock:disconnect_after=1",
          "mock:stall mock:no_done",
          "mock:malformed",
          "mock:error_event",
          "mock:empty_deltas"}) {
        BOOST_TEST_CONTEXT(d)
        {
            const auto v = parsed(std::string("mock:tokens=3 ") + d);
            BOOST_TEST(v.at_pointer("/choices/0/message/content") == "w0 w1 w2 ");
            BOOST_TEST(v.at_pointer("/choices/0/finish_reason") == "stop");
            BOOST_TEST(v.at_pointer("/usage/completion_tokens") == 3);
        }
    }
}

BOOST_AUTO_TEST_CASE(finish_usage_and_model)
{
    auto in = input("0123456789abcdefghij"); // 5 prompt tokens
    in.model_json = R"({"odd":["model"]})";
    auto v = parsed("mock:tokens=1 mock:finish=length", in);
    BOOST_TEST(v.at_pointer("/choices/0/finish_reason") == "length");
    BOOST_TEST(v.at("model") == json::parse(R"({"odd":["model"]})"));
    BOOST_TEST(
        v.at("usage") ==
        json::parse(R"({"prompt_tokens":5,"completion_tokens":1,"total_tokens":6})")
    );
    v = parsed("mock:no_usage");
    BOOST_TEST(!v.as_object().contains("usage"));
    BOOST_TEST(v.at_pointer("/choices/0/message/content") == "w0 w1 w2 w3 w4 w5 w6 w7 ");
}

BOOST_AUTO_TEST_CASE(refusal_goes_in_refusal_with_null_content)
{
    BOOST_TEST(
        parsed("mock:tokens=2 mock:refusal").at_pointer("/choices/0/message") ==
        json::parse(R"({"role":"assistant","content":null,"refusal":"w0 w1 "})")
    );
}

BOOST_AUTO_TEST_CASE(reasoning_is_reasoning_content)
{
    BOOST_TEST(
        parsed("mock:tokens=1 mock:reasoning=3").at_pointer("/choices/0/message") ==
        json::parse(R"({"role":"assistant","content":"w0 ","reasoning_content":"r0 r1 r2 "})")
    );
}

BOOST_AUTO_TEST_CASE(tool_call_answer)
{
    auto in = input("weather? mock:tool_call");
    in.tool_name = "get_weather";
    BOOST_TEST(
        answer("mock:tool_call", in) ==
        R"({"id":"mock-7","object":"chat.completion","created":1700000000,"model":"m",)"
        R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[)"
        R"({"id":"call_mock_7","type":"function","function":{"name":"get_weather",)"
        R"("arguments":"{\"city\":\"Paris\"}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],)"
        R"("usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}})"
    );
    const auto v = parsed("mock:tool_call mock:finish=stop mock:reasoning=1");
    BOOST_TEST(v.at_pointer("/choices/0/finish_reason") == "stop");
    BOOST_TEST(v.at_pointer("/choices/0/message/tool_calls/0/function/name") == "mock_tool");
    BOOST_TEST(v.at_pointer("/choices/0/message/reasoning_content") == "r0 ");
    BOOST_TEST(
        json::parse(v.at_pointer("/choices/0/message/tool_calls/0/function/arguments").as_string()
        ) == json::parse(R"({"city":"Paris"})")
    );
}

BOOST_AUTO_TEST_CASE(a_tool_result_is_answered)
{
    auto in = input("22 \"C\" mock:finish=length");
    in.last_role = "tool";
    const auto v = parsed("mock:finish=length", in);
    BOOST_TEST(
        v.at_pointer("/choices/0/message/content") == "tool result: 22 \"C\" mock:finish=length"
    );
    BOOST_TEST(v.at_pointer("/choices/0/finish_reason") == "length");
    BOOST_TEST(v.at_pointer("/usage/completion_tokens") == 1);
}

BOOST_AUTO_TEST_CASE(logprobs_one_entry_per_token)
{
    auto in = input();
    in.logprobs = true;
    BOOST_TEST(
        parsed("mock:tokens=2", in).at_pointer("/choices/0/logprobs") ==
        json::parse(R"({"content":[)"
                    R"({"token":"w0 ","logprob":-0.25,"bytes":null,"top_logprobs":[]},)"
                    R"({"token":"w1 ","logprob":-0.25,"bytes":null,"top_logprobs":[]}]})")
    );
    BOOST_TEST(
        parsed("mock:tokens=0", in).at_pointer("/choices/0/logprobs") ==
        json::parse(R"({"content":[]})")
    );
    // No content tokens: the refusal and the tool call.
    BOOST_TEST(
        parsed("mock:refusal", in).at_pointer("/choices/0/logprobs") ==
        json::parse(R"({"content":[]})")
    );
    BOOST_TEST(
        parsed("mock:tool_call", in).at_pointer("/choices/0/logprobs") ==
        json::parse(R"({"content":[]})")
    );
}

BOOST_AUTO_TEST_CASE(the_answer_waits_as_long_as_the_stream_would_have)
{
    using namespace std::chrono_literals;
    auto tool = input();
    tool.last_role = "tool";
    struct
    {
        std::string directives;
        mock::chat_input in;
        std::chrono::milliseconds delay;
    } const cases[] = {
        {"", input(), 0ms},
        {"mock:interval=10", input(), 80ms},
        {"mock:interval=10 mock:tokens=2 mock:reasoning=3", input(), 50ms},
        {"mock:interval=10 mock:stall_after=2", input(), 80ms},
        {"mock:interval=10 mock:tool_call", input(), 30ms},
        {"mock:interval=10 mock:echo", input(), 10ms},
        {"mock:interval=10", tool, 10ms},
        {"mock:interval=10 mock:huge=1000", input(), 0ms},
        {"mock:interval=10 mock:tokens=0", input(), 0ms},
        {"mock:interval=2000000000 mock:tokens=99999999999", input(), 2147483647ms},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.directives)
        {
            BOOST_TEST(
                mock::whole_answer_delay(mock::parse_directives(c.directives), c.in).count() ==
                c.delay.count()
            );
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
