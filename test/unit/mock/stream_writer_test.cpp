#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <testing/mock/stream_writer.hpp>
#include <vector>

namespace mock = tokenrelay::mock;
namespace json = boost::json;
using namespace std::chrono_literals;

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

struct run_result
{
    std::vector<mock::sse_piece> pieces;
    mock::stream_end end;
    std::size_t content_tokens;
};

run_result run(const std::string& directives, mock::chat_input in = input())
{
    mock::stream_writer w(mock::parse_directives(directives), std::move(in), 7, 1700000000);
    run_result r;
    while (auto p = w.next())
        r.pieces.push_back(std::move(*p));
    r.end = w.end();
    r.content_tokens = w.content_tokens();
    // Once over, the writer stays over.
    BOOST_TEST(!w.next());
    return r;
}

// The JSON of a "data: {...}\n\n" event written with LF line ends.
json::value data_of(const mock::sse_piece& p)
{
    BOOST_REQUIRE(p.bytes.starts_with("data: "));
    BOOST_REQUIRE(p.bytes.ends_with("\n\n"));
    return json::parse(p.bytes.substr(6, p.bytes.size() - 8));
}

json::value delta_of(const mock::sse_piece& p)
{
    return data_of(p).at_pointer("/choices/0/delta");
}

const std::string envelope =
    R"({"id":"mock-7","object":"chat.completion.chunk","created":1700000000,"model":"m",)";

} // namespace

BOOST_AUTO_TEST_SUITE(mock_stream_writer)

BOOST_AUTO_TEST_CASE(exact_bytes_of_a_two_token_reply)
{
    const auto r = run("mock:tokens=2");
    std::string body;
    for (const auto& p : r.pieces)
        body += p.bytes;
    const std::string expected =
        "data: " + envelope +
        R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{"content":"w0 "},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{"content":"w1 "},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})"
        "\n\n"
        "data: [DONE]\n\n";
    BOOST_TEST(body == expected);
    BOOST_TEST(r.pieces.size() == 6u);
    BOOST_TEST((r.end == mock::stream_end::complete));
    BOOST_TEST(r.content_tokens == 2u);
}

BOOST_AUTO_TEST_CASE(default_reply_is_eight_tokens_w0_to_w7)
{
    const auto r = run("", input("0123456789abcdefghij")); // 20 characters: 5 prompt tokens
    BOOST_REQUIRE(r.pieces.size() == 1u + 8u + 3u);
    std::string text;
    for (std::size_t i = 1; i <= 8; ++i)
        text += std::string(delta_of(r.pieces[i]).at("content").as_string());
    BOOST_TEST(text == "w0 w1 w2 w3 w4 w5 w6 w7 ");
    BOOST_TEST(
        data_of(r.pieces[10]).at("usage") ==
        json::parse(R"({"prompt_tokens":5,"completion_tokens":8,"total_tokens":13})")
    );
}

BOOST_AUTO_TEST_CASE(interval_delays_each_token_only)
{
    const auto r = run("mock:tokens=2 mock:reasoning=1 mock:interval=40");
    std::vector<std::chrono::milliseconds> delays;
    for (const auto& p : r.pieces)
        delays.push_back(p.delay);
    // role, reasoning, w0, w1, finish, usage, [DONE]
    const std::vector<std::chrono::milliseconds> expected{0ms, 40ms, 40ms, 40ms, 0ms, 0ms, 0ms};
    BOOST_TEST(delays == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(line_ends_and_comments)
{
    struct
    {
        std::string directives;
        std::string prefix; // before each "data:" line
        std::string le;
    } const cases[] = {
        {"", "", "\n"},
        {"mock:lineend=crlf", "", "\r\n"},
        {"mock:lineend=cr", "", "\r"},
        {"mock:comments", ": keep-alive\nevent: message\n", "\n"},
        {"mock:comments mock:lineend=crlf", ": keep-alive\r\nevent: message\r\n", "\r\n"},
        {"mock:comments mock:lineend=cr", ": keep-alive\revent: message\r", "\r"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.directives)
        {
            const auto r = run("mock:tokens=1 " + c.directives);
            BOOST_REQUIRE(r.pieces.size() == 5u);
            BOOST_TEST(r.pieces.back().bytes == c.prefix + "data: [DONE]" + c.le + c.le);
            for (const auto& p : r.pieces) {
                BOOST_TEST(p.bytes.starts_with(c.prefix + "data: "));
                BOOST_TEST(p.bytes.ends_with(c.le + c.le));
                // The line end is used throughout, never mixed with another.
                const auto lines = std::count(p.bytes.begin(), p.bytes.end(), c.le.back());
                BOOST_TEST(
                    std::count(p.bytes.begin(), p.bytes.end(), '\r') +
                        std::count(p.bytes.begin(), p.bytes.end(), '\n') ==
                    lines * static_cast<std::ptrdiff_t>(c.le.size())
                );
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(stall_sends_nothing)
{
    const auto r = run("mock:stall");
    BOOST_TEST(r.pieces.empty());
    BOOST_TEST((r.end == mock::stream_end::stall));
}

BOOST_AUTO_TEST_CASE(stall_after_and_disconnect_after_send_exactly_k_tokens)
{
    struct
    {
        std::string directives;
        std::size_t tokens;
        mock::stream_end end;
    } const cases[] = {
        {"mock:stall_after=2", 2, mock::stream_end::stall},
        {"mock:stall_after=0", 0, mock::stream_end::stall},
        {"mock:stall_after=12", 12, mock::stream_end::stall},
        {"mock:tokens=3 mock:stall_after=5", 5, mock::stream_end::stall},
        {"mock:disconnect_after=1", 1, mock::stream_end::disconnect},
        {"mock:disconnect_after=3 mock:stall_after=4", 3, mock::stream_end::disconnect},
        {"mock:echo mock:disconnect_after=5", 1, mock::stream_end::disconnect},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.directives)
        {
            const auto r = run(c.directives);
            BOOST_TEST(r.pieces.size() == 1 + c.tokens); // role + tokens, no finish
            BOOST_TEST(r.content_tokens == c.tokens);
            BOOST_TEST((r.end == c.end));
            for (std::size_t i = 1; i < r.pieces.size(); ++i)
                BOOST_TEST(delta_of(r.pieces[i]).as_object().contains("content"));
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_and_error_event_follow_the_first_token)
{
    struct
    {
        std::string directives;
        std::size_t pieces;
        std::string last;
    } const cases[] = {
        {"mock:malformed", 3, "data: {not json\n\n"},
        {"mock:malformed mock:tokens=0", 2, "data: {not json\n\n"},
        {"mock:error_event",
         3,
         "data: {\"error\":{\"message\":\"mock stream error\",\"type\":\"mock_error\"}}\n\n"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.directives)
        {
            const auto r = run(c.directives);
            BOOST_REQUIRE(r.pieces.size() == c.pieces);
            BOOST_TEST(r.pieces.back().bytes == c.last);
            BOOST_TEST((r.end == mock::stream_end::complete));
        }
    }
    const auto r = run("mock:malformed");
    BOOST_TEST(delta_of(r.pieces[1]).at("content") == "w0 ");
}

BOOST_AUTO_TEST_CASE(no_done_ends_after_the_tokens)
{
    const auto r = run("mock:tokens=2 mock:no_done");
    BOOST_REQUIRE(r.pieces.size() == 3u);
    BOOST_TEST(delta_of(r.pieces[2]).at("content") == "w1 ");
    BOOST_TEST((r.end == mock::stream_end::complete));
}

BOOST_AUTO_TEST_CASE(reasoning_precedes_content)
{
    const auto r = run("mock:tokens=1 mock:reasoning=2");
    BOOST_REQUIRE(r.pieces.size() == 7u);
    BOOST_TEST(delta_of(r.pieces[1]) == json::parse(R"({"reasoning_content":"r0 "})"));
    BOOST_TEST(delta_of(r.pieces[2]) == json::parse(R"({"reasoning_content":"r1 "})"));
    BOOST_TEST(delta_of(r.pieces[3]) == json::parse(R"({"content":"w0 "})"));
    BOOST_TEST(data_of(r.pieces[5]).at_pointer("/usage/completion_tokens") == 1);
}

BOOST_AUTO_TEST_CASE(finish_and_usage_variants)
{
    auto r = run("mock:tokens=1 mock:finish=length");
    BOOST_TEST(data_of(r.pieces[2]).at_pointer("/choices/0/finish_reason") == "length");

    r = run("mock:tokens=1 mock:no_usage");
    BOOST_REQUIRE(r.pieces.size() == 4u);
    BOOST_TEST(r.pieces[3].bytes == "data: [DONE]\n\n");
    BOOST_TEST(!data_of(r.pieces[2]).as_object().contains("usage"));

    r = run("mock:tokens=1 mock:usage_null_choices");
    const auto usage = data_of(r.pieces[3]);
    BOOST_TEST(usage.at("choices").is_null());
    BOOST_TEST(usage.at_pointer("/usage/total_tokens") == 2);
}

BOOST_AUTO_TEST_CASE(echo_replies_with_the_messages_json)
{
    auto in = input("say \"hi\" mock:echo");
    const auto messages = in.messages_json;
    const auto r = run("mock:echo", std::move(in));
    BOOST_REQUIRE(r.pieces.size() == 5u);
    BOOST_TEST(delta_of(r.pieces[1]).at("content").as_string() == messages);
    BOOST_TEST(r.content_tokens == 1u);
}

BOOST_AUTO_TEST_CASE(huge_splits_into_64_byte_tokens)
{
    struct
    {
        std::size_t bytes;
        std::vector<std::size_t> sizes;
    } const cases[] = {
        {130, {64, 64, 2}},
        {128, {64, 64}},
        {1, {1}},
        {0, {}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.bytes)
        {
            const auto r = run("mock:interval=50 mock:huge=" + std::to_string(c.bytes));
            BOOST_REQUIRE(r.pieces.size() == 1 + c.sizes.size() + 3);
            for (std::size_t i = 0; i < c.sizes.size(); ++i) {
                BOOST_TEST(
                    delta_of(r.pieces[1 + i]).at("content").as_string() ==
                    std::string(c.sizes[i], 'x')
                );
                BOOST_TEST(r.pieces[1 + i].delay.count() == 0); // as fast as possible
            }
            BOOST_TEST(r.content_tokens == c.sizes.size());
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_deltas_go_between_tokens)
{
    const auto r = run("mock:tokens=3 mock:empty_deltas");
    std::vector<std::string> contents;
    for (std::size_t i = 1; i + 3 < r.pieces.size(); ++i) {
        const auto c = delta_of(r.pieces[i]).at("content");
        contents.push_back(c.is_null() ? "<null>" : std::string(c.as_string()));
    }
    const std::vector<std::string> expected{"w0 ", "", "<null>", "w1 ", "", "<null>", "w2 "};
    BOOST_TEST(contents == expected, boost::test_tools::per_element());
    BOOST_TEST(r.content_tokens == 3u);
    BOOST_TEST(data_of(r.pieces[r.pieces.size() - 2]).at_pointer("/usage/completion_tokens") == 3);
}

BOOST_AUTO_TEST_CASE(finish_reason_is_json_escaped)
{
    const auto r = run("mock:tokens=0 mock:finish=a\"b");
    BOOST_TEST(data_of(r.pieces[1]).at_pointer("/choices/0/finish_reason") == "a\"b");
}

BOOST_AUTO_TEST_CASE(tool_call_streams_the_call_in_pieces)
{
    auto in = input("weather? mock:tool_call");
    in.tool_name = "get_weather";
    const auto r = run("mock:tool_call", std::move(in));
    std::string body;
    for (const auto& p : r.pieces)
        body += p.bytes;
    const std::string expected =
        "data: " + envelope +
        R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_mock_7","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\""}}]},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\"Par"}}]},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is\"}"}}]},"finish_reason":null}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
        "\n\n"
        "data: " +
        envelope +
        R"("choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}})"
        "\n\n"
        "data: [DONE]\n\n";
    BOOST_TEST(body == expected);
    BOOST_TEST(r.content_tokens == 3u);
    BOOST_TEST((r.end == mock::stream_end::complete));
}

BOOST_AUTO_TEST_CASE(tool_call_arguments_join_into_json)
{
    std::string arguments;
    for (auto piece : mock::tool_call_arguments)
        arguments += piece;
    BOOST_TEST(json::parse(arguments) == json::parse(R"({"city":"Paris"})"));
}

BOOST_AUTO_TEST_CASE(tool_call_variants)
{
    // The default function name, an explicit finish, reasoning first, an interval.
    auto r = run("mock:tool_call mock:finish=stop mock:reasoning=1 mock:interval=30 mock:tokens=9");
    BOOST_REQUIRE(r.pieces.size() == 1u + 1u + 1u + 3u + 3u);
    BOOST_TEST(delta_of(r.pieces[1]) == json::parse(R"({"reasoning_content":"r0 "})"));
    BOOST_TEST(delta_of(r.pieces[2]).at_pointer("/tool_calls/0/function/name") == "mock_tool");
    BOOST_TEST(r.pieces[2].delay == 0ms);
    for (std::size_t i = 3; i < 6; ++i)
        BOOST_TEST(r.pieces[i].delay == 30ms);
    BOOST_TEST(data_of(r.pieces[6]).at_pointer("/choices/0/finish_reason") == "stop");
    BOOST_TEST(r.content_tokens == 3u);

    // Cut after one argument piece.
    r = run("mock:tool_call mock:disconnect_after=1");
    BOOST_REQUIRE(r.pieces.size() == 3u); // role, the call's head, one piece
    BOOST_TEST((r.end == mock::stream_end::disconnect));
    BOOST_TEST(r.content_tokens == 1u);

    // A cut beyond the three pieces cannot invent more.
    r = run("mock:tool_call mock:stall_after=10");
    BOOST_TEST(r.pieces.size() == 5u);
    BOOST_TEST((r.end == mock::stream_end::stall));

    r = run("mock:tool_call mock:no_usage");
    BOOST_REQUIRE(r.pieces.size() == 7u);
    BOOST_TEST(data_of(r.pieces[5]).at_pointer("/choices/0/finish_reason") == "tool_calls");
}

BOOST_AUTO_TEST_CASE(a_tool_result_is_answered_in_one_token)
{
    auto in = input("22 degrees mock:tokens=4");
    in.last_role = "tool";
    const auto r = run("mock:tokens=4", std::move(in));
    BOOST_REQUIRE(r.pieces.size() == 5u);
    BOOST_TEST(
        delta_of(r.pieces[1]) ==
        json::parse(R"({"content":"tool result: 22 degrees mock:tokens=4"})")
    );
    BOOST_TEST(r.content_tokens == 1u);
    BOOST_TEST(data_of(r.pieces[3]).at_pointer("/usage/completion_tokens") == 1);

    // Directives still apply; stamps are for the `w<i>` tokens only.
    in = input("x \"q\"");
    in.last_role = "tool";
    const auto stamped = run("mock:stamp mock:finish=length", std::move(in));
    BOOST_REQUIRE(stamped.pieces.size() == 5u);
    BOOST_TEST(delta_of(stamped.pieces[1]).at("content") == "tool result: x \"q\"");
    BOOST_TEST(!stamped.pieces[1].stamp_at);
    BOOST_TEST(data_of(stamped.pieces[2]).at_pointer("/choices/0/finish_reason") == "length");
}

BOOST_AUTO_TEST_CASE(logprobs_ride_on_every_content_token)
{
    auto in = input();
    in.logprobs = true;
    const auto r = run("mock:tokens=2", std::move(in));
    BOOST_REQUIRE(r.pieces.size() == 6u);
    BOOST_TEST(
        r.pieces[1].bytes ==
        "data: " + envelope +
            R"("choices":[{"index":0,"delta":{"content":"w0 "},"logprobs":{"content":[{"token":"w0 ","logprob":-0.25,"bytes":null,"top_logprobs":[]}]},"finish_reason":null}]})"
            "\n\n"
    );
    BOOST_TEST(data_of(r.pieces[2]).at_pointer("/choices/0/logprobs/content/0/token") == "w1 ");
    // The role, finish and usage chunks carry none.
    for (std::size_t i : {0u, 3u})
        BOOST_TEST(!data_of(r.pieces[i]).at_pointer("/choices/0").as_object().contains("logprobs"));

    // Text that needs escaping, and Mistral's parts.
    in = input("say \"hi\" mock:echo");
    in.logprobs = true;
    const auto messages = in.messages_json;
    const auto echo = run("mock:echo", std::move(in));
    BOOST_TEST(
        data_of(echo.pieces[1]).at_pointer("/choices/0/logprobs/content/0/token").as_string() ==
        messages
    );
    in = input();
    in.logprobs = true;
    const auto parts = run("mock:tokens=1 mock:parts", std::move(in));
    BOOST_TEST(data_of(parts.pieces[1]).at_pointer("/choices/0/logprobs/content/0/token") == "w0 ");
    BOOST_TEST(delta_of(parts.pieces[1]).at_pointer("/content/0/text") == "w0 ");
}

BOOST_AUTO_TEST_CASE(logprobs_keep_the_stamp_slot_in_content)
{
    auto in = input();
    in.logprobs = true;
    auto r = run("mock:tokens=1 mock:stamp", std::move(in));
    auto& p = r.pieces[1];
    BOOST_REQUIRE(p.stamp_at);
    mock::fill_stamp(p, 1700000000123456);
    BOOST_TEST(delta_of(p).at("content") == "w0@1700000000123456 ");
}

BOOST_AUTO_TEST_CASE(refusal_and_tool_call_deltas_carry_no_logprobs)
{
    auto in = input();
    in.logprobs = true;
    const auto refusal = run("mock:tokens=1 mock:refusal", in);
    BOOST_TEST(!data_of(refusal.pieces[1]).at_pointer("/choices/0").as_object().contains("logprobs")
    );
    const auto call = run("mock:tool_call", in);
    for (std::size_t i = 1; i < 5; ++i)
        BOOST_TEST(
            !data_of(call.pieces[i]).at_pointer("/choices/0").as_object().contains("logprobs")
        );
}

BOOST_AUTO_TEST_CASE(finish_reason_helper)
{
    BOOST_TEST(mock::finish_reason(mock::parse_directives("")) == "stop");
    BOOST_TEST(mock::finish_reason(mock::parse_directives("mock:tool_call")) == "tool_calls");
    BOOST_TEST(
        mock::finish_reason(mock::parse_directives("mock:finish=length mock:tool_call")) == "length"
    );
    BOOST_TEST(
        mock::finish_reason(mock::parse_directives("mock:tool_call mock:finish=stop")) == "stop"
    );
}

BOOST_AUTO_TEST_CASE(http_chunk_framing)
{
    std::string out;
    mock::append_http_chunk(out, "abc");
    BOOST_TEST(out == "3\r\nabc\r\n");
    mock::append_http_chunk(out, "");
    BOOST_TEST(out == "3\r\nabc\r\n");
    out.clear();
    mock::append_http_chunk(out, std::string(26, 'z'));
    BOOST_TEST(out == "1a\r\n" + std::string(26, 'z') + "\r\n");
    out.clear();
    mock::append_http_chunk(out, std::string(4096, 'q'));
    BOOST_TEST(out.substr(0, 6) == "1000\r\n");
    BOOST_TEST(mock::last_http_chunk == "0\r\n\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
