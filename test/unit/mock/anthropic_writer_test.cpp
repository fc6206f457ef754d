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

written run_anthropic(const std::string& directives)
{
    mock::anthropic_writer w(mock::parse_directives(directives), anthropic_input(), 5);
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
