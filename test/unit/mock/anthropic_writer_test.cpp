#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/mock/anthropic_writer.hpp>
#include <vector>

namespace mock = tokenrelay::mock;
using namespace std::chrono_literals;

namespace {

mock::chat_input anthropic_input()
{
    mock::chat_input in;
    in.model_json = R"("claude")";
    in.messages_json = R"([{"role":"user","content":"hi"}])";
    in.last_content = "hi";
    in.prompt_chars = 12; // 3 prompt tokens
    return in;
}

struct written
{
    std::string body;
    std::vector<std::chrono::milliseconds> delays;
    mock::stream_end end;
};

written run_anthropic(const std::string& directives, mock::chat_input in = anthropic_input())
{
    mock::anthropic_writer w(mock::parse_directives(directives), std::move(in), 5);
    written r;
    while (auto p = w.next()) {
        r.body += p->bytes;
        r.delays.push_back(p->delay);
    }
    r.end = w.end();
    return r;
}

const std::string head =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_mock-5","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}})"
    "\n\n"
    "event: ping\n"
    R"(data: {"type": "ping"})"
    "\n\n";

std::string text_start(int index)
{
    return "event: content_block_start\n"
           R"(data: {"type":"content_block_start","index":)" +
           std::to_string(index) + R"(,"content_block":{"type":"text","text":""}})" + "\n\n";
}

std::string text_delta(int index, const std::string& text)
{
    return "event: content_block_delta\n"
           R"(data: {"type":"content_block_delta","index":)" +
           std::to_string(index) + R"(,"delta":{"type":"text_delta","text":")" + text + "\"}}\n\n";
}

std::string tail(int index, const std::string& stop_reason, int output_tokens)
{
    return "event: content_block_stop\n"
           R"(data: {"type":"content_block_stop","index":)" +
           std::to_string(index) + "}\n\n" +
           "event: message_delta\n"
           R"(data: {"type":"message_delta","delta":{"stop_reason":")" +
           stop_reason + R"(","stop_sequence":null},"usage":{"output_tokens":)" +
           std::to_string(output_tokens) + "}}\n\n" +
           "event: message_stop\n"
           R"(data: {"type":"message_stop"})"
           "\n\n";
}

std::string tool_start(int index, const std::string& name)
{
    return "event: content_block_start\n"
           R"(data: {"type":"content_block_start","index":)" +
           std::to_string(index) +
           R"(,"content_block":{"type":"tool_use","id":"toolu_mock_5","name":")" + name +
           R"(","input":{}}})" + "\n\n";
}

std::string json_delta(int index, const std::string& escaped_piece)
{
    return "event: content_block_delta\n"
           R"(data: {"type":"content_block_delta","index":)" +
           std::to_string(index) + R"(,"delta":{"type":"input_json_delta","partial_json":")" +
           escaped_piece + "\"}}\n\n";
}

std::string all_json_deltas(int index)
{
    return json_delta(index, R"({\"city\")") + json_delta(index, R"(:\"Par)") +
           json_delta(index, R"(is\"})");
}

mock::chat_input messages_input(const std::string& body)
{
    auto in = mock::parse_messages_input(boost::json::parse(body));
    BOOST_REQUIRE(in.has_value());
    return *in;
}

} // namespace

BOOST_AUTO_TEST_SUITE(anthropic_writer)

BOOST_AUTO_TEST_CASE(default_stream_is_exact)
{
    const auto r = run_anthropic("mock:tokens=2 mock:interval=5");
    BOOST_TEST(
        r.body ==
        head + text_start(0) + text_delta(0, "w0 ") + text_delta(0, "w1 ") + tail(0, "end_turn", 2)
    );
    // Only the tokens wait for the interval.
    BOOST_TEST(
        r.delays ==
            (std::vector<std::chrono::milliseconds>{0ms, 0ms, 0ms, 5ms, 5ms, 0ms, 0ms, 0ms}),
        boost::test_tools::per_element()
    );
    BOOST_TEST((r.end == mock::stream_end::complete));
}

BOOST_AUTO_TEST_CASE(reasoning_is_a_thinking_block_before_the_text_block)
{
    const auto r = run_anthropic("mock:reasoning=2 mock:tokens=1 mock:finish=length");
    const std::string thinking =
        "event: content_block_start\n"
        R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})"
        "\n\n"
        "event: content_block_delta\n"
        R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"r0 "}})"
        "\n\n"
        "event: content_block_delta\n"
        R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"r1 "}})"
        "\n\n"
        "event: content_block_delta\n"
        R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"bW9jaw=="}})"
        "\n\n"
        "event: content_block_stop\n"
        R"(data: {"type":"content_block_stop","index":0})"
        "\n\n";
    BOOST_TEST(
        r.body == head + thinking + text_start(1) + text_delta(1, "w0 ") + tail(1, "max_tokens", 1)
    );
}

BOOST_AUTO_TEST_CASE(error_event_follows_the_first_token)
{
    const auto r = run_anthropic("mock:error_event");
    BOOST_TEST(
        r.body ==
        head + text_start(0) + text_delta(0, "w0 ") +
            "event: error\n"
            R"(data: {"type":"error","error":{"type":"overloaded_error","message":"mock stream error"}})"
            "\n\n"
    );
    BOOST_TEST((r.end == mock::stream_end::complete));
}

BOOST_AUTO_TEST_CASE(disconnect_stall_and_no_done_cut_the_stream)
{
    const auto cut = run_anthropic("mock:disconnect_after=1");
    BOOST_TEST(cut.body == head + text_start(0) + text_delta(0, "w0 "));
    BOOST_TEST((cut.end == mock::stream_end::disconnect));

    const auto stalled = run_anthropic("mock:stall_after=1");
    BOOST_TEST(stalled.body == head + text_start(0) + text_delta(0, "w0 "));
    BOOST_TEST((stalled.end == mock::stream_end::stall));

    const auto no_done = run_anthropic("mock:tokens=1 mock:no_done");
    BOOST_TEST(
        no_done.body == head + text_start(0) + text_delta(0, "w0 ") +
                            "event: content_block_stop\n"
                            R"(data: {"type":"content_block_stop","index":0})"
                            "\n\n"
    );
    BOOST_TEST((no_done.end == mock::stream_end::complete));

    const auto stall = run_anthropic("mock:stall");
    BOOST_TEST(stall.body.empty());
    BOOST_TEST((stall.end == mock::stream_end::stall));
}

BOOST_AUTO_TEST_CASE(malformed_and_crlf)
{
    const auto bad = run_anthropic("mock:malformed mock:tokens=1");
    BOOST_TEST(
        bad.body == head + text_start(0) + text_delta(0, "w0 ") +
                        "event: content_block_delta\ndata: {not json\n\n"
    );
    const auto crlf = run_anthropic("mock:tokens=0 mock:lineend=crlf");
    BOOST_TEST(crlf.body.starts_with("event: message_start\r\ndata: {"));
    BOOST_TEST(
        crlf.body.ends_with("event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n")
    );
    BOOST_TEST(crlf.body.find("\n\n") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(tool_call_streams_a_tool_use_block)
{
    auto in = anthropic_input();
    in.tool_name = "get_weather";
    const auto r = run_anthropic("mock:tool_call mock:interval=5 mock:tokens=20", in);
    BOOST_TEST(
        r.body == head + tool_start(0, "get_weather") + all_json_deltas(0) + tail(0, "tool_use", 3)
    );
    // The three input pieces wait for the interval, the block's start does not.
    BOOST_TEST(
        r.delays ==
            (std::vector<std::chrono::milliseconds>{0ms, 0ms, 0ms, 5ms, 5ms, 5ms, 0ms, 0ms, 0ms}),
        boost::test_tools::per_element()
    );
    BOOST_TEST((r.end == mock::stream_end::complete));
}

BOOST_AUTO_TEST_CASE(tool_call_follows_reasoning_finish_and_cuts)
{
    const auto r = run_anthropic("mock:tool_call mock:reasoning=1 mock:finish=length");
    BOOST_TEST(
        r.body.find(tool_start(1, "mock_tool") + all_json_deltas(1) + tail(1, "max_tokens", 3)) !=
        std::string::npos
    );

    const auto cut = run_anthropic("mock:tool_call mock:disconnect_after=2");
    BOOST_TEST(
        cut.body == head + tool_start(0, "mock_tool") + json_delta(0, R"({\"city\")") +
                        json_delta(0, R"(:\"Par)")
    );
    BOOST_TEST((cut.end == mock::stream_end::disconnect));

    const auto err = run_anthropic("mock:tool_call mock:error_event");
    BOOST_TEST(err.body.starts_with(
        head + tool_start(0, "mock_tool") + json_delta(0, R"({\"city\")") + "event: error\n"
    ));
}

BOOST_AUTO_TEST_CASE(messages_input_reads_tools_and_tool_results)
{
    const auto plain = messages_input(
        R"({"model":"claude","stream":true,"tools":[{"name":"get_weather","input_schema":{}}],)"
        R"("messages":[{"role":"user","content":"hi mock:tool_call"}]})"
    );
    BOOST_TEST(plain.tool_name == "get_weather");
    BOOST_TEST(plain.stream);
    BOOST_TEST(plain.last_role == "user");
    BOOST_TEST(plain.last_content == "hi mock:tool_call");

    // OpenAI's tool form is not Anthropic's: no name there.
    const auto unnamed =
        messages_input(R"({"tools":[{"type":"function","function":{"name":"f"}}],"messages":[]})");
    BOOST_TEST(unnamed.tool_name == "mock_tool");
    BOOST_TEST(!unnamed.stream);

    const auto result = messages_input(
        R"({"messages":[{"role":"user","content":"q"},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny, 21 C"}]}]})"
    );
    BOOST_TEST(result.last_role == "tool");
    BOOST_TEST(result.last_content == "sunny, 21 C");
    BOOST_TEST(result.prompt_chars == 12u);

    const auto blocks = messages_input(
        R"({"messages":[{"role":"user","content":[)"
        R"({"type":"tool_result","tool_use_id":"a","content":"first"},)"
        R"({"type":"tool_result","tool_use_id":"b","content":[{"type":"text","text":"rain"},{"type":"text","text":"y"}]},)"
        R"({"type":"text","text":"and?"}]}]})"
    );
    BOOST_TEST(blocks.last_role == "tool");
    BOOST_TEST(blocks.last_content == "rainy");

    // A tool result earlier on is not the one the reply answers.
    const auto earlier = messages_input(
        R"({"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"x"}]},)"
        R"({"role":"assistant","content":"ok"}]})"
    );
    BOOST_TEST(earlier.last_role == "assistant");
    BOOST_TEST(earlier.last_content == "ok");

    BOOST_TEST(!mock::parse_messages_input(boost::json::parse(R"({"messages":{}})")).has_value());
}

BOOST_AUTO_TEST_CASE(a_tool_result_is_answered_in_one_token)
{
    const auto in = messages_input(
        R"({"model":"claude","messages":[{"role":"user","content":[)"
        R"({"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"sunny"}]}]}]})"
    );
    const auto r = run_anthropic("", in);
    BOOST_TEST(
        r.body.find(
            text_start(0) + text_delta(0, "tool result: sunny") + "event: content_block_stop"
        ) != std::string::npos
    );
    BOOST_TEST(r.body.find(R"("output_tokens":1}})") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(whole_answers_are_exact)
{
    const auto in = anthropic_input();
    BOOST_TEST(
        mock::anthropic_whole_answer(
            mock::parse_directives("mock:tokens=2 mock:stall_after=1"), in, 5
        ) ==
        R"({"id":"msg_mock-5","type":"message","role":"assistant","model":"claude",)"
        R"("content":[{"type":"text","text":"w0 w1 "}],"stop_reason":"end_turn","stop_sequence":null,)"
        R"("usage":{"input_tokens":3,"output_tokens":2}})"
    );

    auto weather = anthropic_input();
    weather.tool_name = "get_weather";
    BOOST_TEST(
        mock::anthropic_whole_answer(mock::parse_directives("mock:tool_call"), weather, 5) ==
        R"({"id":"msg_mock-5","type":"message","role":"assistant","model":"claude",)"
        R"("content":[{"type":"tool_use","id":"toolu_mock_5","name":"get_weather","input":{"city":"Paris"}}],)"
        R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":3}})"
    );

    BOOST_TEST(
        mock::anthropic_whole_answer(
            mock::parse_directives("mock:reasoning=2 mock:tokens=1 mock:finish=length"), in, 5
        ) ==
        R"({"id":"msg_mock-5","type":"message","role":"assistant","model":"claude",)"
        R"("content":[{"type":"thinking","thinking":"r0 r1 ","signature":"bW9jaw=="},{"type":"text","text":"w0 "}],)"
        R"("stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}})"
    );

    const auto result =
        messages_input(R"({"model":"claude","messages":[{"role":"user","content":[)"
                       R"({"type":"tool_result","tool_use_id":"t","content":"sunny, 21 C"}]}]})");
    const auto v = boost::json::parse(mock::anthropic_whole_answer(mock::plan{}, result, 9));
    BOOST_TEST(v.at_pointer("/content/0/text").as_string() == "tool result: sunny, 21 C");
    BOOST_TEST(v.at_pointer("/usage/output_tokens").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(error_bodies_follow_the_status)
{
    BOOST_TEST(
        mock::anthropic_error_body(529, "mock failure 529") ==
        R"({"type":"error","error":{"type":"overloaded_error","message":"mock failure 529"}})"
    );
    BOOST_TEST(
        mock::anthropic_error_body(429, "x") ==
        R"({"type":"error","error":{"type":"rate_limit_error","message":"x"}})"
    );
    BOOST_TEST(
        mock::anthropic_error_body(500, "a \"b\"") ==
        R"({"type":"error","error":{"type":"api_error","message":"a \"b\""}})"
    );
    BOOST_TEST(
        mock::anthropic_error_body(401, "k") ==
        R"({"type":"error","error":{"type":"authentication_error","message":"k"}})"
    );
}

BOOST_AUTO_TEST_SUITE_END()
