#include <tokenrelay/sse/openai_decoder.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::sse {
namespace {

const std::string bad_part =
    "choices[0].delta.content holds a part that is not an object with a string text or thinking";

// Everything decode() reports, in one printable value, so each case checks all fields
// at once and a failure shows both sides.
struct outcome
{
    bool ok = true;
    std::string why;
    std::string content;
    std::string reasoning;
    std::string refusal;
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
       << o.reasoning << "\" refusal=\"" << o.refusal << "\" finish=\"" << o.finish_reason
       << "\" usage=";
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

outcome refused(std::string text)
{
    outcome o;
    o.refusal = std::move(text);
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
    chunk_out.refusal = "stale";
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
    o.refusal = chunk_out.refusal;
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
     failure("choices[0].delta.content is not a string or a list of parts")},
    {"content a list of strings",
     R"({"choices":[{"delta":{"content":["a"]}}]})",
     failure(bad_part)},
    {"a text part without text",
     R"({"choices":[{"delta":{"content":[{"type":"text"}]}}]})",
     failure(bad_part)},
    {"a text part with a number",
     R"({"choices":[{"delta":{"content":[{"type":"text","text":1}]}}]})",
     failure(bad_part)},
    {"a thinking part without thinking",
     R"({"choices":[{"delta":{"content":[{"type":"thinking"}]}}]})",
     failure(bad_part)},
    {"a thinking part holding a string",
     R"({"choices":[{"delta":{"content":[{"type":"thinking","thinking":[7]}]}}]})",
     failure(bad_part)},
    {"a bad part after good ones",
     R"({"choices":[{"delta":{"content":[{"type":"text","text":"a"},null]}}]})",
     failure(bad_part)},
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

// The decoder reads the common shapes from parser events, without a value tree
// (it costs per token), so what a tree hides must not matter: escapes split keys and strings into
// parts, members come in any order, everything it does not read is skipped at any depth, and the
// first problem reported is still the one the tree reading finds first.
std::vector<test_case> const escape_cases{
    {"escaped key", R"({"choices":[{"delta":{"con\u0074ent":"x"}}]})", chunk("x")},
    {"every key that matters escaped",
     R"({"ch\u006fices":[{"d\u0065lta":{"\u0063ontent":"c","reasoning\u005fcontent":"r"},"finish\u005freason":"stop"}],"\u0075sage":{"prompt\u005ftokens":1,"completion_token\u0073":2}})",
     chunk("c", "r", "stop", token_usage{1, 2})},
    {"escaped key that only starts like one that matters",
     R"({"choices":[{"delta":{"content\u0000":"x","content":"y"}}]})",
     chunk("y")},
    {"escaped key longer than any that matters",
     R"({"usage":{"completion_tokens\u005fdetails":5,"prompt_tokens":1,"completion_tokens_details":{"reasoning_tokens":0}}})",
     chunk("", "", "", token_usage{1, 0})},
    {"escaped error key",
     R"({"err\u006fr":"boom","choices":[{"delta":{"content":"x"}}]})",
     upstream_error("boom")},
    {"escaped quote inside content",
     R"({"choices":[{"delta":{"content":"a\"b"}}]})",
     chunk("a\"b")},
    {"content that is only escapes",
     R"({"choices":[{"delta":{"content":"\"\\\/\b\f\n\r\t"}}]})",
     chunk("\"\\/\b\f\n\r\t")},
    {"unicode escapes in reasoning",
     R"({"choices":[{"delta":{"reasoning_content":"\u00fc\u4e2d\ud83d\ude00!"}}]})",
     chunk("", "\xC3\xBC\xE4\xB8\xAD\xF0\x9F\x98\x80!")},
    {"escaped finish_reason",
     R"({"choices":[{"finish_reason":"st\u006fp"}]})",
     chunk("", "", "stop")},
    {"raw UTF-8 content",
     "{\"choices\":[{\"delta\":{\"content\":\"caf\xC3\xA9\"}}]}",
     chunk("caf\xC3\xA9")},
    {"invalid UTF-8 content",
     "{\"choices\":[{\"delta\":{\"content\":\"a\xC3\"}}]}",
     failure("malformed JSON in stream event: syntax error")},
    {"bad escape in content",
     R"({"choices":[{"delta":{"content":"a\x"}}]})",
     failure("malformed JSON in stream event: syntax error")},
    {"lone surrogate in a skipped member",
     R"({"id":"\ud800","choices":[{"delta":{"content":"x"}}]})",
     failure("malformed JSON in stream event: syntax error")},
};

std::vector<test_case> const order_cases{
    {"usage before choices, members reversed",
     R"({"usage":{"completion_tokens":2,"prompt_tokens":1},"choices":[{"finish_reason":"stop","delta":{"reasoning":"r","content":"c"},"index":0}],"id":"x"})",
     chunk("c", "r", "stop", token_usage{1, 2})},
    {"reasoning before reasoning_content",
     R"({"choices":[{"delta":{"reasoning":"b","reasoning_content":"a"}}]})",
     chunk("", "a")},
    {"reasoning before a null reasoning_content",
     R"({"choices":[{"delta":{"reasoning":"b","reasoning_content":null}}]})",
     chunk("", "b")},
    {"wrong reasoning unread when reasoning_content is a string",
     R"({"choices":[{"delta":{"reasoning":1,"reasoning_content":"ok"}}]})",
     chunk("", "ok")},
    {"wrong reasoning read when reasoning_content is null",
     R"({"choices":[{"delta":{"reasoning":1,"reasoning_content":null}}]})",
     failure("choices[0].delta.reasoning is not a string")},
    {"choices checked before usage",
     R"({"usage":5,"choices":7})",
     failure("choices is not an array")},
    {"delta checked before finish_reason",
     R"({"choices":[{"finish_reason":1,"delta":{"content":2}}]})",
     failure("choices[0].delta.content is not a string or a list of parts")},
    {"content checked before reasoning_content and reasoning",
     R"({"choices":[{"delta":{"reasoning":1,"reasoning_content":2,"content":3}}]})",
     failure("choices[0].delta.content is not a string or a list of parts")},
    {"prompt_tokens checked before completion_tokens",
     R"({"usage":{"completion_tokens":-1,"prompt_tokens":"x"}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"syntax error after a wrong type",
     R"({"choices":5,"usage":)",
     failure("malformed JSON in stream event: incomplete JSON")},
    {"extra data after a wrong type",
     R"({"choices":5}x)",
     failure("malformed JSON in stream event: extra data")},
    {"error after a wrong type", R"({"choices":5,"error":"boom"})", upstream_error("boom")},
    {"wrong type after an error", R"({"error":{"message":"m"},"choices":5})", upstream_error("m")},
};

std::vector<test_case> const skip_cases{
    {"extra choices ignored, whatever they hold",
     R"({"choices":[{"delta":{"content":"a"}},{"delta":{"content":5}},7,null,[{"finish_reason":"x"}],{"delta":{"content":"b","content":"c"}}]})",
     chunk("a")},
    {"choices[0] null", R"({"choices":[null]})", failure("choices[0] is not an object")},
    {"choices[0] an array holding a choice",
     R"({"choices":[[{"delta":{"content":"x"}}]]})",
     failure("choices[0] is not an object")},
    {"unknown members with known names inside",
     R"({"choices":[{"delta":{"content":"a","tool_calls":[{"index":0,"function":{"arguments":"{\"content\":1}","content":{"content":[1,{"content":2}]}}}]},"logprobs":{"content":[{"token":"a","top_logprobs":[]}]},"finish_reason":null}],"system_fingerprint":"fp","x":{"choices":5,"usage":"u","error":"e"}})",
     chunk("a")},
    {"known names at the wrong level",
     R"({"content":"top","delta":{"content":"x"},"finish_reason":5,"prompt_tokens":-1,"choices":[{"content":"y","usage":3,"error":"e","delta":{"delta":{"content":"z"},"finish_reason":3,"usage":1,"choices":2}}]})",
     chunk()},
    {"error members below the top level",
     R"({"choices":[{"delta":{"content":"x","error":"e"},"error":{"message":"m"}}],"usage":{"error":1,"prompt_tokens":1}})",
     chunk("x", "", "", token_usage{1, 0})},
    {"non-object root holding a chunk",
     R"([{"choices":[{"delta":{"content":"x"}}],"error":"e"}])",
     failure("stream event is not a JSON object")},
    {"non-object root, truncated",
     "[1,",
     failure("malformed JSON in stream event: incomplete JSON")},
    {"true", "true", failure("stream event is not a JSON object")},
    {"double", "1.5", failure("stream event is not a JSON object")},
    {"delta an array",
     R"({"choices":[{"delta":[{"content":"x"}]}]})",
     failure("choices[0].delta is not an object")},
    {"usage an array", R"({"usage":[{"prompt_tokens":1}]})", failure("usage is not an object")},
    {"content an object",
     R"({"choices":[{"delta":{"content":{"text":"x"}}}]})",
     failure("choices[0].delta.content is not a string or a list of parts")},
};

// Boost.JSON 1.81 keeps the last of duplicate keys (object.ipp, "keeping the last of
// any duplicate keys"): the answer must be the one that value tree gives.
std::vector<test_case> const duplicate_cases{
    {"content twice", R"({"choices":[{"delta":{"content":"a","content":"b"}}]})", chunk("b")},
    {"wrong content, then a string",
     R"({"choices":[{"delta":{"content":5,"content":"b"}}]})",
     chunk("b")},
    {"content, then a wrong one",
     R"({"choices":[{"delta":{"content":"b","content":5}}]})",
     failure("choices[0].delta.content is not a string or a list of parts")},
    {"choices, then empty choices",
     R"({"choices":[{"delta":{"content":"a"}}],"choices":[]})",
     chunk()},
    {"empty choices, then choices",
     R"({"choices":[],"choices":[{"delta":{"content":"a"}}]})",
     chunk("a")},
    {"usage, then null usage",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"usage":null})",
     chunk()},
    {"prompt_tokens twice",
     R"({"usage":{"prompt_tokens":1,"prompt_tokens":3,"completion_tokens":2}})",
     chunk("", "", "", token_usage{3, 2})},
    {"finish_reason, then null",
     R"({"choices":[{"finish_reason":"stop","finish_reason":null}]})",
     chunk()},
    {"delta twice",
     R"({"choices":[{"delta":{"content":"a"},"delta":{"reasoning":"r"}}]})",
     chunk("", "r")},
    {"reasoning_content, then null",
     R"({"choices":[{"delta":{"reasoning_content":"a","reasoning":"b","reasoning_content":null}}]})",
     chunk("", "b")},
    {"error, then null error",
     R"({"error":"boom","error":null,"choices":[{"delta":{"content":"x"}}]})",
     chunk("x")},
    {"null error, then error", R"({"error":null,"error":"boom"})", upstream_error("boom")},
    {"error message twice", R"({"error":{"message":"m","message":"n"}})", upstream_error("n")},
    {"duplicates that do not matter",
     R"({"id":"a","id":"b","choices":[{"index":0,"index":1,"delta":{"role":"a","role":"b","content":"x"}}]})",
     chunk("x")},
};

std::vector<test_case> const count_cases{
    {"zero and minus zero",
     R"({"usage":{"prompt_tokens":0,"completion_tokens":-0}})",
     chunk("", "", "", token_usage{0, 0})},
    {"negative prompt_tokens",
     R"({"usage":{"prompt_tokens":-1,"completion_tokens":1}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"most negative int64",
     R"({"usage":{"prompt_tokens":-9223372036854775808}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"one past int64",
     R"({"usage":{"prompt_tokens":9223372036854775808}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"past uint64",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":18446744073709551616}})",
     failure("usage.completion_tokens is not a non-negative integer")},
    {"exponent",
     R"({"usage":{"prompt_tokens":1e2}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"whole double",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":2.0}})",
     failure("usage.completion_tokens is not a non-negative integer")},
    {"bool",
     R"({"usage":{"prompt_tokens":true}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"array",
     R"({"usage":{"prompt_tokens":[1]}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
    {"object",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":{}}})",
     failure("usage.completion_tokens is not a non-negative integer")},
    {"completion_tokens null",
     R"({"usage":{"prompt_tokens":4,"completion_tokens":null}})",
     chunk("", "", "", token_usage{4, 0})},
    {"counts in unread places",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":-3,"prompt_tokens_details":{"cached_tokens":1.5}},"created":-1,"x":18446744073709551616})",
     chunk("", "", "", token_usage{1, 2})},
};

// Shapes of particular providers, as recorded from their streams.
std::vector<test_case> const provider_cases{
    // Mistral's reasoning models: content as a list of parts, thinking before text.
    {"mistral thinking parts",
     R"({"id":"x","object":"chat.completion.chunk","model":"magistral-medium-latest","choices":[{"index":0,"delta":{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"Let me "},{"type":"text","text":"think."}]}]},"finish_reason":null}]})",
     chunk("", "Let me think.")},
    {"mistral text parts",
     R"({"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"The answer"},{"type":"text","text":" is 4."}]},"finish_reason":null}]})",
     chunk("The answer is 4.")},
    {"mistral thinking then text in one chunk",
     R"({"choices":[{"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"hm"}]},{"type":"text","text":"ok"}]}}]})",
     chunk("ok", "hm")},
    {"thinking as a string",
     R"({"choices":[{"delta":{"content":[{"type":"thinking","thinking":"hm"}]}}]})",
     chunk("", "hm")},
    {"a part without a type is text",
     R"({"choices":[{"delta":{"content":[{"text":"a"}]}}]})",
     chunk("a")},
    {"parts of other types are passed over",
     R"({"choices":[{"delta":{"content":[{"type":"reference","reference_ids":[1]},{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:"}}]}}]})",
     chunk("a")},
    {"an empty list of parts", R"({"choices":[{"delta":{"content":[]}}]})", chunk("")},
    {"parts, then a finish reason and usage",
     R"({"choices":[{"delta":{"content":[{"type":"text","text":"."}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}})",
     chunk(".", "", "stop", token_usage{3, 2})},
    // Groq: the counts in x_groq.usage, read when the standard place has none.
    {"groq usage",
     R"({"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"queue_time":0.01,"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}})",
     chunk("", "", "stop", token_usage{12, 7})},
    {"standard usage wins over groq's",
     R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"x_groq":{"usage":{"prompt_tokens":9,"completion_tokens":9}}})",
     chunk("", "", "", token_usage{1, 2})},
    {"groq extras without usage", R"({"x_groq":{"id":"req_1"}})", chunk()},
    {"groq extras not an object", R"({"x_groq":"x"})", chunk()},
    // OpenAI's refusal, in its own member of the delta.
    {"refusal",
     R"({"choices":[{"delta":{"content":null,"refusal":"I can't."}}]})",
     refused("I can't.")},
    {"refusal null", R"({"choices":[{"delta":{"refusal":null,"content":"a"}}]})", chunk("a")},
    {"refusal a number",
     R"({"choices":[{"delta":{"refusal":1}}]})",
     failure("choices[0].delta.refusal is not a string")},
    {"refusal checked after content",
     R"({"choices":[{"delta":{"refusal":1,"content":2}}]})",
     failure("choices[0].delta.content is not a string or a list of parts")},
    {"groq usage with a bad count",
     R"({"x_groq":{"usage":{"prompt_tokens":-1}}})",
     failure("usage.prompt_tokens is not a non-negative integer")},
};

std::vector<test_case> const error_cases{
    {"error array", R"({"error":[1,{"a":null}]})", upstream_error(R"([1,{"a":null}])")},
    {"error true", R"({"error":true})", upstream_error("true")},
    {"error escaped message",
     R"({"error":{"message":"a\"b\u00e9"}})",
     upstream_error("a\"b\xC3\xA9")},
    {"error with usage", R"({"usage":{"prompt_tokens":1},"error":"e"})", upstream_error("e")},
    {"error, truncated",
     R"({"error":{"message":"m"},)",
     failure("malformed JSON in stream event: incomplete JSON")},
    {"error, extra data",
     R"({"error":"e"}x)",
     failure("malformed JSON in stream event: extra data")},
    {"error, then a syntax error",
     R"({"error":"e","choices":[}])",
     failure("malformed JSON in stream event: syntax error")},
};

std::vector<std::vector<test_case> const*> const all_tables{
    &valid_cases,
    &invalid_cases,
    &escape_cases,
    &order_cases,
    &skip_cases,
    &duplicate_cases,
    &count_cases,
    &error_cases,
    &provider_cases,
};

void check_table(std::vector<test_case> const& cases)
{
    for (auto const& tc : cases) {
        BOOST_TEST_CONTEXT(tc.name)
        {
            BOOST_TEST(run(tc.data) == tc.expected);
        }
    }
}

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

BOOST_AUTO_TEST_CASE(provider_shapes)
{
    check_table(provider_cases);
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
        for (auto const* cases : all_tables) {
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

BOOST_AUTO_TEST_CASE(escapes_split_keys_and_strings)
{
    check_table(escape_cases);
}

BOOST_AUTO_TEST_CASE(members_in_any_order)
{
    check_table(order_cases);
}

BOOST_AUTO_TEST_CASE(unread_values_skipped)
{
    check_table(skip_cases);
}

BOOST_AUTO_TEST_CASE(duplicate_keys_keep_the_last)
{
    check_table(duplicate_cases);
}

BOOST_AUTO_TEST_CASE(usage_counts)
{
    check_table(count_cases);
}

BOOST_AUTO_TEST_CASE(error_members)
{
    check_table(error_cases);
}

BOOST_AUTO_TEST_CASE(long_escaped_strings)
{
    // Longer than the parser's buffer for unescaped text, so a key or string arrives in
    // many parts, each to be appended.
    openai_decoder decoder;
    std::string escaped;
    std::string text;
    for (int i = 0; i < 3000; ++i) {
        escaped += R"(\"\u00e9x)";
        text += "\"\xC3\xA9x";
    }
    BOOST_TEST(
        run(decoder, R"({"choices":[{"delta":{"content":")" + escaped + R"("}}]})") == chunk(text)
    );
    BOOST_TEST(
        run(decoder,
            R"({"choices":[{"delta":{"reasoning":"b","reasoning_content":")" + escaped + R"("}}]})"
        ) == chunk("", text)
    );
    // A long escaped key that starts like one that matters is not that key.
    BOOST_TEST(
        run(decoder, R"({"choices":[{"delta":{"content)" + escaped + R"(":5,"content":"y"}}]})") ==
        chunk("y")
    );
    BOOST_TEST(run(decoder, R"({"choices":[{"delta":{"content":"s"}}]})") == chunk("s"));
}

BOOST_AUTO_TEST_CASE(skipped_values_at_any_depth)
{
    // Unread arrays nested up to the parser's limit (max_depth 32, the enclosing objects
    // and arrays counted) next to the members that are read, at the top and in delta.
    auto const top = [](int levels) {
        return R"({"x":)" + std::string(levels, '[') + std::string(levels, ']') +
               R"(,"choices":[{"delta":{"content":"ok"}}]})";
    };
    auto const in_delta = [](int levels) {
        return R"({"choices":[{"delta":{"x":)" + std::string(levels, '[') +
               std::string(levels, ']') + R"(,"content":"ok"}}]})";
    };
    BOOST_TEST(run(top(31)) == chunk("ok"));
    BOOST_TEST(run(top(32)) == failure("malformed JSON in stream event: too deep"));
    BOOST_TEST(run(in_delta(28)) == chunk("ok"));
    BOOST_TEST(run(in_delta(29)) == failure("malformed JSON in stream event: too deep"));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::sse
