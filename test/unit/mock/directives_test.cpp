#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/mock/directives.hpp>
#include <vector>

namespace mock = tokenrelay::mock;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(mock_directives)

BOOST_AUTO_TEST_CASE(no_directives_keeps_the_defaults)
{
    const auto p = mock::parse_directives("hello there, mock: is not a directive");
    BOOST_TEST(p.tokens == 8u);
    BOOST_TEST(p.interval.count() == 0);
    BOOST_TEST(!p.status);
    BOOST_TEST(p.finish == "stop");
    BOOST_TEST((p.lineend == mock::line_end::lf));
    BOOST_TEST(!p.stall);
    BOOST_TEST(p.ignored.empty());
}

BOOST_AUTO_TEST_CASE(defaults_are_overridden_only_by_directives)
{
    mock::plan defaults;
    defaults.interval = 25ms;
    BOOST_TEST(mock::parse_directives("hi", defaults).interval == 25ms);
    BOOST_TEST(mock::parse_directives("hi mock:interval=0", defaults).interval == 0ms);
}

BOOST_AUTO_TEST_CASE(numeric_directives)
{
    const auto p = mock::parse_directives(
        "mock:tokens=3 mock:interval=50 mock:status=503 mock:fail_first=2 mock:fail_status=500 "
        "mock:retry_after=7 mock:stall_after=4 mock:disconnect_after=5 mock:reasoning=6 "
        "mock:huge=1000 mock:nonewline=12 mock:linger=80"
    );
    BOOST_TEST(p.tokens == 3u);
    BOOST_TEST(p.interval == 50ms);
    BOOST_TEST(p.status.value() == 503u);
    BOOST_TEST(p.fail_first.value() == 2u);
    BOOST_TEST(p.fail_status == 500u);
    BOOST_TEST(p.retry_after == 7u);
    BOOST_TEST(p.stall_after.value() == 4u);
    BOOST_TEST(p.disconnect_after.value() == 5u);
    BOOST_TEST(p.reasoning == 6u);
    BOOST_TEST(p.huge.value() == 1000u);
    BOOST_TEST(p.nonewline.value() == 12u);
    BOOST_TEST(p.linger == 80ms);
    BOOST_TEST(p.ignored.empty());
}

BOOST_AUTO_TEST_CASE(flag_directives)
{
    const auto p = mock::parse_directives(
        "mock:stall mock:never_answer mock:malformed mock:error_event mock:no_done mock:bytewise "
        "mock:no_usage mock:usage_null_choices mock:echo mock:empty_deltas mock:comments "
        "mock:echo_auth_error"
    );
    BOOST_TEST(p.stall);
    BOOST_TEST(p.never_answer);
    BOOST_TEST(p.malformed);
    BOOST_TEST(p.error_event);
    BOOST_TEST(p.no_done);
    BOOST_TEST(p.bytewise);
    BOOST_TEST(p.no_usage);
    BOOST_TEST(p.usage_null_choices);
    BOOST_TEST(p.echo);
    BOOST_TEST(p.empty_deltas);
    BOOST_TEST(p.comments);
    BOOST_TEST(p.echo_auth_error);
    BOOST_TEST(p.ignored.empty());
}

BOOST_AUTO_TEST_CASE(string_directives)
{
    BOOST_TEST(mock::parse_directives("mock:finish=length").finish == "length");
    BOOST_TEST((mock::parse_directives("mock:lineend=crlf").lineend == mock::line_end::crlf));
    BOOST_TEST((mock::parse_directives("mock:lineend=cr").lineend == mock::line_end::cr));
    BOOST_TEST(
        (mock::parse_directives("mock:lineend=cr mock:lineend=lf").lineend == mock::line_end::lf)
    );
}

BOOST_AUTO_TEST_CASE(words_are_split_on_any_whitespace)
{
    const auto p = mock::parse_directives("say\tmock:tokens=2\nmock:stall\r\nmock:interval=9 end");
    BOOST_TEST(p.tokens == 2u);
    BOOST_TEST(p.stall);
    BOOST_TEST(p.interval == 9ms);
}

BOOST_AUTO_TEST_CASE(a_later_directive_wins)
{
    BOOST_TEST(mock::parse_directives("mock:tokens=3 mock:tokens=5").tokens == 5u);
}

BOOST_AUTO_TEST_CASE(bad_or_unknown_directives_are_ignored_and_reported)
{
    struct
    {
        std::string word;
    } const cases[] = {
        {"mock:tokens=-1"},
        {"mock:tokens=abc"},
        {"mock:tokens="},
        {"mock:tokens=3x"},
        {"mock:status=42"},
        {"mock:status=1000"},
        {"mock:lineend=lfcr"},
        {"mock:finish="},
        {"mock:teleport"},
        {"mock:stall=1"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.word)
        {
            const auto p = mock::parse_directives("x " + c.word + " y");
            BOOST_TEST(p.tokens == 8u);
            BOOST_TEST(!p.status);
            BOOST_TEST(!p.stall);
            BOOST_TEST((p.lineend == mock::line_end::lf));
            BOOST_TEST(p.finish == "stop");
            BOOST_TEST(p.ignored == std::vector<std::string>{c.word});
        }
    }
}

BOOST_AUTO_TEST_CASE(chat_input_reads_model_messages_and_last_content)
{
    const auto body = boost::json::parse(R"({"model":"gpt-x","stream":true,"messages":[)"
                                         R"({"role":"system","content":"abc"},)"
                                         R"({"role":"user","content":"hi mock:tokens=2"}]})");
    const auto in = mock::parse_chat_input(body);
    BOOST_REQUIRE(in);
    BOOST_TEST(in->model_json == R"("gpt-x")");
    BOOST_TEST(
        in->messages_json ==
        R"([{"role":"system","content":"abc"},{"role":"user","content":"hi mock:tokens=2"}])"
    );
    BOOST_TEST(in->last_content == "hi mock:tokens=2");
    BOOST_TEST(in->prompt_chars == 3u + 16u);
}

BOOST_AUTO_TEST_CASE(chat_input_counts_characters_not_bytes)
{
    // "héllo" is 5 characters in 6 bytes; "日本" 2 characters in 6 bytes.
    const auto in = mock::parse_chat_input(boost::json::parse(
        R"({"messages":[{"role":"user","content":"h\u00e9llo"},{"role":"user","content":"\u65e5\u672c"}]})"
    ));
    BOOST_REQUIRE(in);
    BOOST_TEST(in->prompt_chars == 7u);
    BOOST_TEST(in->model_json == R"("mock")");
}

BOOST_AUTO_TEST_CASE(chat_input_joins_text_parts_and_tolerates_missing_content)
{
    const auto in = mock::parse_chat_input(boost::json::parse(
        R"({"messages":[{"role":"assistant","content":null},)"
        R"({"role":"user","content":[{"type":"text","text":"a mock:"},)"
        R"({"type":"image_url","image_url":{}},{"type":"text","text":"echo"}]}]})"
    ));
    BOOST_REQUIRE(in);
    BOOST_TEST(in->last_content == "a mock:echo");
    BOOST_TEST(in->prompt_chars == 11u);
}

BOOST_AUTO_TEST_CASE(tool_call_and_finish_given)
{
    const auto p = mock::parse_directives("mock:tool_call");
    BOOST_TEST(p.tool_call);
    BOOST_TEST(!p.finish_given);
    BOOST_TEST(p.ignored.empty());
    BOOST_TEST(mock::parse_directives("mock:finish=stop").finish_given);
    BOOST_TEST(!mock::parse_directives("mock:finish=").finish_given);
    BOOST_TEST(!mock::parse_directives("hi").tool_call);
}

BOOST_AUTO_TEST_CASE(chat_input_reads_stream_logprobs_role_and_tool_name)
{
    auto in = mock::parse_chat_input(boost::json::parse(
        R"({"stream":true,"logprobs":true,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}},)"
        R"({"type":"function","function":{"name":"other"}}],"messages":[{"role":"user","content":"hi"}]})"
    ));
    BOOST_REQUIRE(in);
    BOOST_TEST(in->stream);
    BOOST_TEST(in->logprobs);
    BOOST_TEST(in->last_role == "user");
    BOOST_TEST(in->tool_name == "get_weather");

    // Absent, null, false or not a boolean: no stream, no logprobs; no tools: the default name.
    for (const char* flags :
         {"",
          R"("stream":false,"logprobs":false,)",
          R"("stream":null,"logprobs":null,)",
          R"("stream":"true","logprobs":1,)",
          R"("tools":[],)",
          R"("tools":[{"type":"function"}],)",
          R"("tools":[{"function":{"name":7}}],)",
          R"("tools":{},)"}) {
        BOOST_TEST_CONTEXT(flags)
        {
            in = mock::parse_chat_input(boost::json::parse(
                std::string("{") + flags + R"("messages":[{"role":"user","content":"hi"}]})"
            ));
            BOOST_REQUIRE(in);
            BOOST_TEST(!in->stream);
            BOOST_TEST(!in->logprobs);
            BOOST_TEST(in->tool_name == "mock_tool");
        }
    }
}

BOOST_AUTO_TEST_CASE(chat_input_accepts_tool_calls_tool_results_and_odd_roles)
{
    // An assistant message with tool_calls and no (or null) content, then the tool result.
    const auto in = mock::parse_chat_input(boost::json::parse(
        R"({"messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
        R"({"role":"assistant","content":null},)"
        R"({"role":"developer","content":"x"},)"
        R"({"role":"tool","tool_call_id":"call_1","content":"22 C"}]})"
    ));
    BOOST_REQUIRE(in);
    BOOST_TEST(in->last_role == "tool");
    BOOST_TEST(in->last_content == "22 C");
    BOOST_TEST(in->prompt_chars == 8u + 1u + 4u);

    // Roles that are missing or not strings, and messages that are not objects.
    const auto odd = mock::parse_chat_input(boost::json::parse(
        R"({"messages":[{"role":"tool","content":"a"},{"role":5,"content":{"x":1}},7]})"
    ));
    BOOST_REQUIRE(odd);
    BOOST_TEST(odd->last_role == "");
    BOOST_TEST(odd->last_content == "");
    const auto no_role =
        mock::parse_chat_input(boost::json::parse(R"({"messages":[{"content":"a"}]})"));
    BOOST_REQUIRE(no_role);
    BOOST_TEST(no_role->last_role == "");
}

BOOST_AUTO_TEST_CASE(chat_input_rejects_bodies_without_a_messages_array)
{
    BOOST_TEST(!mock::parse_chat_input(boost::json::parse(R"([1,2])")));
    BOOST_TEST(!mock::parse_chat_input(boost::json::parse(R"({"model":"m"})")));
    BOOST_TEST(!mock::parse_chat_input(boost::json::parse(R"({"messages":"hi"})")));
    const auto empty = mock::parse_chat_input(boost::json::parse(R"({"messages":[]})"));
    BOOST_REQUIRE(empty);
    BOOST_TEST(empty->last_content == "");
}

BOOST_AUTO_TEST_CASE(prompt_tokens_is_a_quarter_of_the_characters_at_least_one)
{
    BOOST_TEST(mock::prompt_tokens(0) == 1u);
    BOOST_TEST(mock::prompt_tokens(3) == 1u);
    BOOST_TEST(mock::prompt_tokens(7) == 1u);
    BOOST_TEST(mock::prompt_tokens(8) == 2u);
    BOOST_TEST(mock::prompt_tokens(41) == 10u);
}

BOOST_AUTO_TEST_SUITE_END()
