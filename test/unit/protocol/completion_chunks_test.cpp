#include <tokenrelay/protocol/completion_chunks.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::protocol {
namespace {

const completion_meta meta{"chatcmpl-abc", 1700000000, "m\"1"};
const std::string envelope =
    R"({"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1700000000,"model":"m\"1")";

BOOST_AUTO_TEST_SUITE(completion_chunks_suite)

BOOST_AUTO_TEST_CASE(role_chunk)
{
    std::string out;
    append_role_chunk(out, meta);
    BOOST_TEST(
        out == "data: " + envelope +
                   R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},)"
                   R"("finish_reason":null}]})"
                   "\n\n"
    );
}

BOOST_AUTO_TEST_CASE(content_and_reasoning_deltas_are_escaped)
{
    std::string out;
    append_delta_chunk(out, meta, "a\"b\n", delta_field::content);
    append_delta_chunk(out, meta, "r0 ", delta_field::reasoning_content);
    BOOST_TEST(
        out == "data: " + envelope +
                   R"(,"choices":[{"index":0,"delta":{"content":"a\"b\n"},"finish_reason":null}]})"
                   "\n\n"
                   "data: " +
                   envelope +
                   R"(,"choices":[{"index":0,"delta":{"reasoning_content":"r0 "},)"
                   R"("finish_reason":null}]})"
                   "\n\n"
    );
}

BOOST_AUTO_TEST_CASE(finish_usage_and_done)
{
    std::string out;
    append_finish_chunk(out, meta, "length");
    append_finish_chunk(out, meta, "");
    append_usage_chunk(out, meta, token_usage{3, 8});
    append_done_event(out);
    BOOST_TEST(
        out == "data: " + envelope +
                   R"(,"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})"
                   "\n\n"
                   "data: " +
                   envelope +
                   R"(,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
                   "\n\n"
                   "data: " +
                   envelope +
                   R"(,"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":8,)"
                   R"("total_tokens":11}})"
                   "\n\n"
                   "data: [DONE]\n\n"
    );
}

BOOST_AUTO_TEST_CASE(every_chunk_is_one_json_object)
{
    std::string out;
    append_role_chunk(out, meta);
    append_delta_chunk(out, meta, "\x01\xff", delta_field::content);
    append_finish_chunk(out, meta, "stop");
    append_usage_chunk(out, meta, token_usage{1, 2});
    std::size_t events = 0;
    for (std::size_t pos = 0; pos < out.size();) {
        const auto end = out.find("\n\n", pos);
        BOOST_TEST_REQUIRE(end != std::string::npos);
        const auto line = out.substr(pos, end - pos);
        BOOST_TEST_REQUIRE(line.rfind("data: ", 0) == 0u);
        BOOST_TEST(line.find('\n') == std::string::npos);
        const auto jv = boost::json::parse(line.substr(6));
        BOOST_TEST(jv.as_object().at("object").as_string() == "chat.completion.chunk");
        ++events;
        pos = end + 2;
    }
    BOOST_TEST(events == 4u);
}

BOOST_AUTO_TEST_CASE(error_bodies_and_events)
{
    const auto e = make_api_error(errc::bad_request, "model must be \"x\"", "model");
    BOOST_TEST(e.type == "invalid_request_error");
    BOOST_TEST(e.code == "bad_request");
    BOOST_TEST(
        error_body(e) ==
        R"({"error":{"message":"model must be \"x\"","type":"invalid_request_error",)"
        R"("param":"model","code":"bad_request"}})"
    );
    BOOST_TEST(
        error_body(make_api_error(errc::unauthorized, "no")) ==
        R"({"error":{"message":"no","type":"authentication_error","param":null,)"
        R"("code":"unauthorized"}})"
    );
    BOOST_TEST(make_api_error(errc::upstream_error, "x").type == "server_error");
    BOOST_TEST(make_api_error(errc::timeout, "x").type == "server_error");
    BOOST_TEST(make_api_error(errc::timeout, "x").code == "timeout");
    BOOST_TEST(make_api_error(errc::rate_limited, "x").type == "rate_limit_error");

    std::string out;
    append_error_event(out, make_api_error(errc::upstream_error, "upstream error: boom"));
    BOOST_TEST(
        out == R"(data: {"error":{"message":"upstream error: boom","type":"server_error",)"
               R"("param":null,"code":"upstream_error"}})"
               "\n\n"
    );
}

BOOST_AUTO_TEST_CASE(whole_completion_body)
{
    const std::string head =
        R"({"id":"chatcmpl-abc","object":"chat.completion","created":1700000000,"model":"m\"1",)";
    BOOST_TEST(
        completion_body(meta, "w0 w1 ", "", "", "stop", token_usage{2, 2}) ==
        head + R"("choices":[{"index":0,"message":{"role":"assistant","content":"w0 w1 "},)"
               R"("finish_reason":"stop"}],)"
               R"("usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}})"
    );
    // Reasoning when there was some; no usage when the upstream gave none.
    BOOST_TEST(
        completion_body(meta, "", "r0 ", "", "", std::nullopt) ==
        head + R"("choices":[{"index":0,"message":{"role":"assistant","content":"",)"
               R"("reasoning_content":"r0 "},"finish_reason":"stop"}]})"
    );
    // A refusal in its own member, as OpenAI's message has it.
    BOOST_TEST(
        completion_body(meta, "", "", "I can\"t.", "stop", std::nullopt) ==
        head + R"("choices":[{"index":0,"message":{"role":"assistant","content":"",)"
               R"("refusal":"I can\"t."},"finish_reason":"stop"}]})"
    );
}

BOOST_AUTO_TEST_CASE(refusal_deltas)
{
    std::string out;
    append_delta_chunk(out, meta, "No.", delta_field::refusal);
    BOOST_TEST(
        out == "data: " + envelope +
                   R"(,"choices":[{"index":0,"delta":{"refusal":"No."},"finish_reason":null}]})"
                   "\n\n"
    );
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::protocol
