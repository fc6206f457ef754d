#include <tokenrelay/sse/openai_decoder.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::sse {
namespace {

// Everything decode() reports, in one printable value, so each case checks all fields
// at once and a failure shows both sides.
struct outcome
{
    bool ok = true;
    std::string why;
    std::string content;
    std::string reasoning;
    std::string finish_reason;
    std::optional<token_usage> usage;
    bool done = false;
    bool is_error = false;
    std::string error_message;

    bool operator==(outcome const&) const = default;
};

std::ostream& operator<<(std::ostream& os, outcome const& o)
{
    os << "{ok=" << o.ok << " why=\"" << o.why << "\" content=\"" << o.content << "\" reasoning=\""
       << o.reasoning << "\" finish=\"" << o.finish_reason << "\" usage=";
    if (o.usage) {
        os << o.usage->prompt_tokens << "/" << o.usage->completion_tokens;
    } else {
        os << "none";
    }
    return os << " done=" << o.done << " is_error=" << o.is_error << " error=\"" << o.error_message
              << "\"}";
}

outcome chunk(
    std::string content = "",
    std::string reasoning = "",
    std::string finish_reason = "",
    std::optional<token_usage> usage = std::nullopt
)
{
    outcome o;
    o.content = std::move(content);
    o.reasoning = std::move(reasoning);
    o.finish_reason = std::move(finish_reason);
    o.usage = usage;
    return o;
}

outcome done_marker()
{
    outcome o;
    o.done = true;
    return o;
}

outcome upstream_error(std::string message)
{
    outcome o;
    o.is_error = true;
    o.error_message = std::move(message);
    return o;
}

outcome failure(std::string why)
{
    outcome o;
    o.ok = false;
    o.why = std::move(why);
    return o;
}

outcome run(openai_decoder& decoder, std::string_view data)
{
    openai_chunk chunk_out;
    // Stale values must be cleared by decode(), not by the caller.
    chunk_out.content = "stale";
    chunk_out.reasoning = "stale";
    chunk_out.finish_reason = "stale";
    chunk_out.usage = token_usage{99, 99};
    chunk_out.done = true;
    chunk_out.is_error = true;
    chunk_out.error_message = "stale";
    bool const ok = decoder.decode(data, chunk_out);
    if (!ok) {
        // On failure only the reason matters; the chunk's fields are unspecified.
        return failure(std::string{decoder.why()});
    }
    BOOST_TEST(decoder.why().empty());
    outcome o =
        chunk(chunk_out.content, chunk_out.reasoning, chunk_out.finish_reason, chunk_out.usage);
    o.done = chunk_out.done;
    o.is_error = chunk_out.is_error;
    o.error_message = chunk_out.error_message;
    return o;
}

outcome run(std::string_view data)
{
    openai_decoder decoder;
    return run(decoder, data);
}

struct test_case
{
    std::string_view name;
    std::string_view data;
    outcome expected;
};

// Shaped like real chunks from OpenAI, DeepSeek, vLLM and Ollama.
std::vector<test_case> const valid_cases{
    {"content",
     R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":null,"finish_reason":null}]})",
     chunk("Hel")},
    {"escaped content",
     R"({"choices":[{"delta":{"content":"caf\u00e9 \"q\"\n\ud83d\ude00"}}]})",
     chunk("caf\xC3\xA9 \"q\"\n\xF0\x9F\x98\x80")},
    {"role-only first delta",
     R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
     chunk("")},
    {"content null", R"({"choices":[{"delta":{"content":null}}]})", chunk("")},
    {"delta null", R"({"choices":[{"delta":null,"finish_reason":null}]})", chunk("")},
    {"delta absent", R"({"choices":[{"index":0}]})", chunk("")},
    {"reasoning_content",
     R"({"choices":[{"delta":{"content":null,"reasoning_content":"think"}}]})",
     chunk("", "think")},
    {"reasoning", R"({"choices":[{"delta":{"reasoning":"hmm"}}]})", chunk("", "hmm")},
    {"reasoning_content wins over reasoning",
     R"({"choices":[{"delta":{"reasoning_content":"a","reasoning":"b"}}]})",
     chunk("", "a")},
    {"reasoning_content null falls back to reasoning",
     R"({"choices":[{"delta":{"reasoning_content":null,"reasoning":"b"}}]})",
     chunk("", "b")},
    {"content and reasoning together",
     R"({"choices":[{"delta":{"content":"x","reasoning_content":"y"}}]})",
     chunk("x", "y")},
    {"finish stop",
     R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
     chunk("", "", "stop")},
    {"finish length with last text",
     R"({"choices":[{"delta":{"content":"end"},"finish_reason":"length"}]})",
     chunk("end", "", "length")},
    {"only the first choice counts",
     R"({"choices":[{"delta":{"content":"first"}},{"delta":{"content":"second"}}]})",
     chunk("first")},
    {"usage with choices []",
     R"({"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}})",
     chunk("", "", "", token_usage{12, 34})},
    {"usage with choices null",
     R"({"choices":null,"usage":{"prompt_tokens":5,"completion_tokens":0}})",
     chunk("", "", "", token_usage{5, 0})},
    {"usage without choices",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":2}})",
     chunk("", "", "", token_usage{1, 2})},
    {"usage next to a finish",
     R"({"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":8}})",
     chunk("", "", "stop", token_usage{7, 8})},
    {"usage null", R"({"choices":[{"delta":{"content":"a"}}],"usage":null})", chunk("a")},
    {"usage counts missing or null",
     R"({"choices":[],"usage":{"prompt_tokens":null}})",
     chunk("", "", "", token_usage{0, 0})},
    {"empty object", "{}", chunk()},
    {"surrounding whitespace", " \t{\"choices\":[]}\r\n ", chunk()},
    {"[DONE]", "[DONE]", done_marker()},
    {"error object",
     R"({"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}})",
     upstream_error("Rate limit reached for requests")},
    {"error string", R"({"error":"model overloaded"})", upstream_error("model overloaded")},
    {"error object without message",
     R"({"error":{"code":500,"type":"server_error"}})",
     upstream_error(R"({"code":500,"type":"server_error"})")},
    {"error object with non-string message",
     R"({"error":{"message":42}})",
     upstream_error(R"({"message":42})")},
    {"error number", R"({"error":503})", upstream_error("503")},
    {"error next to choices",
     R"({"choices":[{"delta":{"content":"x"}}],"error":{"message":"boom"}})",
     upstream_error("boom")},
    {"error null is no error",
     R"({"error":null,"choices":[{"delta":{"content":"x"}}]})",
     chunk("x")},
};

std::vector<test_case> const invalid_cases{
    {"empty", "", failure("malformed JSON in stream event: incomplete JSON")},
    {"truncated",
     R"({"choices":[{"delta":{"content":"Hel)",
     failure("malformed JSON in stream event: incomplete JSON")},
    {"extra data", R"({"choices":[]} {})", failure("malformed JSON in stream event: extra data")},
    {"not JSON", "hello", failure("malformed JSON in stream event: syntax error")},
    {"done with a space", " [DONE]", failure("malformed JSON in stream event: syntax error")},
    {"array", "[1,2]", failure("stream event is not a JSON object")},
    {"string", R"("text")", failure("stream event is not a JSON object")},
    {"number", "42", failure("stream event is not a JSON object")},
    {"null", "null", failure("stream event is not a JSON object")},
    {"choices an object", R"({"choices":{"delta":{}}})", failure("choices is not an array")},
    {"choices a string", R"({"choices":"x"})", failure("choices is not an array")},
    {"choice not an object", R"({"choices":[1]})", failure("choices[0] is not an object")},
    {"delta a string",
     R"({"choices":[{"delta":"hi"}]})",
     failure("choices[0].delta is not an object")},
    {"content a number",
     R"({"choices":[{"delta":{"content":5}}]})",
     failure("choices[0].delta.content is not a string")},
    {"content an array",
     R"({"choices":[{"delta":{"content":["a"]}}]})",
     failure("choices[0].delta.content is not a string")},
    {"reasoning_content a bool",
     R"({"choices":[{"delta":{"reasoning_content":true}}]})",
     failure("choices[0].delta.reasoning_content is not a string")},
    {"reasoning an object",
     R"({"choices":[{"delta":{"reasoning":{}}}]})",
     failure("choices[0].delta.reasoning is not a string")},
    {"finish_reason a number",
     R"({"choices":[{"delta":{},"finish_reason":1}]})",
     failure("choices[0].finish_reason is not a string")},
    {"usage a number", R"({"usage":3})", failure("usage is not an object")},
    {"prompt_tokens a string",
     R"({"usage":{"prompt_tokens":"12","completion_tokens":1}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"completion_tokens negative",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":-1}})",
     failure("usage.completion_tokens is not a non-negative integer")},
    {"completion_tokens fractional",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":1.5}})",
     failure("usage.completion_tokens is not a non-negative integer")},
    {"completion_tokens past int64",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":18446744073709551615}})",
     failure("usage.completion_tokens is not a non-negative integer")},
    {"too deep",
     std::string_view{"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["},
     failure("malformed JSON in stream event: too deep")},
};

} // namespace

BOOST_AUTO_TEST_SUITE(sse_openai_decoder)

BOOST_AUTO_TEST_CASE(valid_chunks)
{
    for (auto const& tc : valid_cases) {
        BOOST_TEST_CONTEXT(tc.name)
        {
            BOOST_TEST(run(tc.data) == tc.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(invalid_chunks)
{
    for (auto const& tc : invalid_cases) {
        BOOST_TEST_CONTEXT(tc.name)
        {
            BOOST_TEST(run(tc.data) == tc.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(large_counts_fit)
{
    BOOST_TEST(
        run(R"({"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":0}})") ==
        (chunk("", "", "", token_usage{9223372036854775807, 0}))
    );
}

BOOST_AUTO_TEST_CASE(one_decoder_for_a_whole_stream)
{
    // Every case, valid and invalid, through one decoder, several rounds: no state may
    // leak from one payload into the next, not even after a syntax error left the
    // parser mid-value.
    openai_decoder decoder;
    for (int round = 0; round < 50; ++round) {
        for (auto const* cases : {&valid_cases, &invalid_cases}) {
            for (auto const& tc : *cases) {
                BOOST_TEST_CONTEXT("round " << round << ": " << tc.name)
                {
                    BOOST_TEST(run(decoder, tc.data) == tc.expected);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(chunks_larger_than_the_arena)
{
    // Payloads well past the decoder's in-object arena, mixed with small ones.
    openai_decoder decoder;
    for (std::size_t size : {100u, 5000u, 300u, 200000u, 10u, 70000u}) {
        std::string const text(size, 'a');
        std::string const payload = R"({"choices":[{"delta":{"content":")" + text +
                                    R"("},"finish_reason":null}],"usage":null})";
        BOOST_TEST_CONTEXT("size " << size)
        {
            BOOST_TEST(run(decoder, payload) == chunk(text));
            BOOST_TEST(run(decoder, R"({"choices":[{"delta":{"content":"s"}}]})") == chunk("s"));
        }
    }
    std::string many_choices = R"({"choices":[)";
    for (int i = 0; i < 2000; ++i) {
        many_choices += R"({"delta":{"content":")" + std::to_string(i) + R"("}},)";
    }
    many_choices.back() = ']';
    many_choices += '}';
    BOOST_TEST(run(decoder, many_choices) == chunk("0"));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::sse
