#include <tokenrelay/sse/anthropic_decoder.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace tokenrelay::sse {
namespace {

// Everything decode() reports, in one printable value, so each case checks every field.
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
    if (o.usage)
        os << o.usage->prompt_tokens << "/" << o.usage->completion_tokens;
    else
        os << "none";
    return os << " done=" << o.done << " is_error=" << o.is_error << " error=\"" << o.error_message
              << "\"}";
}

outcome run(anthropic_decoder& d, std::string_view type, std::string_view data)
{
    openai_chunk c;
    // Stale values must be cleared by decode().
    c.content = "stale";
    c.reasoning = "stale";
    c.finish_reason = "stale";
    c.usage = token_usage{99, 99};
    c.done = true;
    c.is_error = true;
    c.error_message = "stale";
    outcome o;
    o.ok = d.decode(type, data, c);
    o.why = std::string(d.why());
    o.content = c.content;
    o.reasoning = c.reasoning;
    o.finish_reason = c.finish_reason;
    o.usage = c.usage;
    o.done = c.done;
    o.is_error = c.is_error;
    o.error_message = c.error_message;
    return o;
}

outcome empty()
{
    return {};
}

outcome failed(std::string why)
{
    outcome o;
    o.ok = false;
    o.why = std::move(why);
    return o;
}

constexpr std::string_view message_start =
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
    R"("content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}})";

} // namespace

BOOST_AUTO_TEST_SUITE(anthropic_decoder_suite)

BOOST_AUTO_TEST_CASE(a_whole_stream_maps_onto_chunks)
{
    anthropic_decoder d;
    BOOST_TEST(run(d, "message_start", message_start) == empty());
    BOOST_TEST(
        run(d,
            "content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})"
        ) == empty()
    );
    outcome thinking;
    thinking.reasoning = "let me see";
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"let me see"}})"
        ) == thinking
    );
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}})"
        ) == empty()
    );
    BOOST_TEST(
        run(d, "content_block_stop", R"({"type":"content_block_stop","index":0})") == empty()
    );
    BOOST_TEST(run(d, "ping", R"({"type": "ping"})") == empty());
    outcome text;
    text.content = "Hello \"w\"\n";
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello \"w\"\n"}})"
        ) == text
    );
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}})"
        ) == empty()
    );
    outcome delta;
    delta.finish_reason = "stop";
    delta.usage = token_usage{25, 15};
    BOOST_TEST(
        run(d,
            "message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}})"
        ) == delta
    );
    outcome stop;
    stop.done = true;
    stop.usage = token_usage{25, 15};
    BOOST_TEST(run(d, "message_stop", R"({"type":"message_stop"})") == stop);
}

BOOST_AUTO_TEST_CASE(stop_reasons_map_to_protocol_reasons)
{
    for (auto const& [stop_reason, expected] :
         std::initializer_list<std::pair<std::string, std::string>>{
             {"end_turn", "stop"},
             {"stop_sequence", "stop"},
             {"max_tokens", "length"},
             {"tool_use", "tool_calls"},
             {"refusal", "content_filter"},
             {"pause_turn", "pause_turn"}}) {
        anthropic_decoder d;
        outcome o;
        o.finish_reason = expected;
        o.usage = token_usage{0, 3};
        BOOST_TEST(
            run(d,
                "message_delta",
                R"({"type":"message_delta","delta":{"stop_reason":")" + stop_reason +
                    R"("},"usage":{"output_tokens":3}})") == o,
            stop_reason
        );
    }
}

BOOST_AUTO_TEST_CASE(message_stop_without_usage_reports_zero_counts)
{
    anthropic_decoder d;
    outcome stop;
    stop.done = true;
    stop.usage = token_usage{0, 0};
    BOOST_TEST(run(d, "message_stop", R"({"type":"message_stop"})") == stop);
}

BOOST_AUTO_TEST_CASE(message_delta_may_restate_input_tokens)
{
    anthropic_decoder d;
    BOOST_TEST(run(d, "message_start", message_start) == empty());
    outcome delta;
    delta.usage = token_usage{30, 4};
    BOOST_TEST(
        run(d,
            "message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":null},"usage":{"input_tokens":30,"output_tokens":4}})"
        ) == delta
    );
}

BOOST_AUTO_TEST_CASE(error_events_are_upstream_errors)
{
    anthropic_decoder d;
    outcome e;
    e.is_error = true;
    e.error_message = "overloaded_error: Overloaded";
    BOOST_TEST(
        run(d,
            "error",
            R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})") == e
    );
    e.error_message = "no type";
    BOOST_TEST(run(d, "error", R"({"type":"error","error":{"message":"no type"}})") == e);
    e.error_message = R"({"type":"x"})";
    BOOST_TEST(run(d, "error", R"({"type":"error","error":{"type":"x"}})") == e);
    e.error_message = R"({"type":"error"})";
    BOOST_TEST(run(d, "error", R"({"type":"error"})") == e);
}

BOOST_AUTO_TEST_CASE(without_an_event_name_the_data_type_decides)
{
    anthropic_decoder d;
    outcome text;
    text.content = "hi";
    BOOST_TEST(
        run(d,
            "message",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}})"
        ) == text
    );
    outcome e;
    e.is_error = true;
    e.error_message = "api_error: boom";
    BOOST_TEST(
        run(d, "message", R"({"type":"error","error":{"type":"api_error","message":"boom"}})") == e
    );
    BOOST_TEST(run(d, "message", R"({"type":7})") == failed("type is not a string"));
}

BOOST_AUTO_TEST_CASE(unknown_event_types_are_ignored)
{
    anthropic_decoder d;
    BOOST_TEST(run(d, "future_event", R"({"type":"future_event","x":[1,2]})") == empty());
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"future_delta","x":1}})") ==
        empty()
    );
}

BOOST_AUTO_TEST_CASE(malformed_events_are_refused_with_a_reason)
{
    anthropic_decoder d;
    auto const bad_json = run(d, "content_block_delta", "{not json");
    BOOST_TEST(!bad_json.ok);
    BOOST_TEST(bad_json.why.starts_with("malformed JSON in stream event: "), bad_json.why);
    BOOST_TEST(run(d, "message_stop", "[1]") == failed("stream event is not a JSON object"));
    BOOST_TEST(
        run(d, "message_start", R"({"type":"message_start"})") ==
        failed("message_start without a message object")
    );
    BOOST_TEST(
        run(d,
            "message_start",
            R"({"type":"message_start","message":{"usage":{"input_tokens":-1}}})") ==
        failed("message.usage.input_tokens is not a non-negative integer")
    );
    BOOST_TEST(
        run(d, "message_start", R"({"type":"message_start","message":{"usage":"x"}})") ==
        failed("message.usage is not an object")
    );
    BOOST_TEST(
        run(d, "content_block_delta", R"({"type":"content_block_delta","index":0})") ==
        failed("content_block_delta without a delta object")
    );
    BOOST_TEST(
        run(d, "content_block_delta", R"({"type":"content_block_delta","delta":{"text":"x"}})") ==
        failed("content_block_delta.delta.type is not a string")
    );
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","delta":{"type":"text_delta","text":5}})") ==
        failed("text_delta.text is not a string")
    );
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","delta":{"type":"thinking_delta"}})") ==
        failed("thinking_delta.thinking is not a string")
    );
    BOOST_TEST(
        run(d, "message_delta", R"({"type":"message_delta","delta":[]})") ==
        failed("message_delta.delta is not an object")
    );
    BOOST_TEST(
        run(d, "message_delta", R"({"type":"message_delta","delta":{"stop_reason":1}})") ==
        failed("delta.stop_reason is not a string")
    );
    BOOST_TEST(
        run(d, "message_delta", R"({"type":"message_delta","usage":{"output_tokens":"3"}})") ==
        failed("usage.output_tokens is not a non-negative integer")
    );
    // A failure does not poison the next event.
    outcome text;
    text.content = "ok";
    BOOST_TEST(
        run(d,
            "content_block_delta",
            R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"ok"}})") == text
    );
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::sse
