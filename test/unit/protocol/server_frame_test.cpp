#include <tokenrelay/protocol/server_frame.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tokenrelay::protocol {
namespace {

namespace json = boost::json;

const std::string fffd = "\xEF\xBF\xBD";

std::string quoted(std::string_view s)
{
    std::string out;
    append_json_string(out, s);
    return out;
}

// The escape every ASCII byte must get, spelled out independently of the implementation.
std::string expected_ascii(unsigned char b)
{
    switch (b) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    }
    if (b < 0x20) {
        const char* hex = "0123456789abcdef";
        return std::string("\\u00") + hex[b >> 4] + hex[b & 0xF];
    }
    return std::string(1, static_cast<char>(b));
}

json::object parse_object(const std::string& text)
{
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "not JSON: " << text);
    BOOST_REQUIRE_MESSAGE(v.is_object(), "not an object: " << text);
    return v.as_object();
}

} // namespace

BOOST_AUTO_TEST_SUITE(server_frame_tests)

BOOST_AUTO_TEST_CASE(json_string_escapes)
{
    BOOST_TEST(quoted("") == R"("")");
    BOOST_TEST(quoted("hi") == R"("hi")");
    BOOST_TEST(quoted("a\"b") == R"("a\"b")");
    BOOST_TEST(quoted("a\\b") == R"("a\\b")");
    BOOST_TEST(quoted("\n\r\t\b\f") == R"("\n\r\t\b\f")");
    BOOST_TEST(quoted(std::string_view("\x00", 1)) == R"("\u0000")");
    BOOST_TEST(quoted("\x01\x1f") == R"("\u0001\u001f")");
    BOOST_TEST(quoted("\x7f/<>") == "\"\x7f/<>\"");
    BOOST_TEST(quoted("caf\u00e9 \U0001F600") == "\"caf\u00e9 \U0001F600\"");
}

BOOST_AUTO_TEST_CASE(every_ascii_byte_at_every_position)
{
    // Positions 0..24 put the byte in each lane of the 8-byte fast path and in the tail.
    for (unsigned b = 0; b < 0x80; ++b) {
        for (std::size_t pos = 0; pos <= 24; ++pos) {
            const std::string before(pos, 'a');
            const std::string after(24 - pos, 'z');
            const std::string in = before + static_cast<char>(b) + after;
            BOOST_TEST_CONTEXT("byte " << b << " at " << pos)
            {
                BOOST_TEST(quoted(in) == '"' + before + expected_ascii(b) + after + '"');
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(valid_utf8_passes_through)
{
    const std::vector<std::string> cases{
        "\xC2\x80",         // U+0080, smallest two-byte
        "\xDF\xBF",         // U+07FF
        "\xE0\xA0\x80",     // U+0800, smallest three-byte
        "\xED\x9F\xBF",     // U+D7FF, just below the surrogates
        "\xEE\x80\x80",     // U+E000, just above them
        "\xEF\xBF\xBF",     // U+FFFF
        "\xEF\xBF\xBD",     // U+FFFD itself
        "\xF0\x90\x80\x80", // U+10000, smallest four-byte
        "\xF4\x8F\xBF\xBF", // U+10FFFF, the last code point
        "\xE4\xBD\xA0\xE5\xA5\xBD, \xF0\x9F\x91\x8B!",
    };
    for (const auto& s : cases) {
        for (std::size_t pad = 0; pad <= 9; ++pad) {
            const std::string in = std::string(pad, 'x') + s + std::string(pad, 'y');
            BOOST_TEST_CONTEXT("input " << in)
            {
                BOOST_TEST(quoted(in) == '"' + in + '"');
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_becomes_one_replacement_per_sequence)
{
    struct invalid_case
    {
        std::string in;
        std::string out; // between the quotes
    };
    const std::vector<invalid_case> cases{
        // Bytes that cannot start a sequence.
        {"\x80", fffd},
        {"\xBF", fffd},
        {"\xF8", fffd},
        {"\xFF", fffd},
        {"\x80\x80", fffd + fffd},
        {"a\xFE"
         "b",
         "a" + fffd + "b"},
        // Truncated: at the end, before ASCII, before another lead byte.
        {"\xC3", fffd},
        {"a\xC3", "a" + fffd},
        {"\xE2\x82", fffd},
        {"\xE2\x82x", fffd + "x"},
        {"\xF0\x9F\x98", fffd},
        {"\xF0\x9F\x98\"", fffd + "\\\""},
        {"\xE2\x82\xC3\xA9", fffd + "\xC3\xA9"},
        {"\xC3\xC3\xA9", fffd + "\xC3\xA9"},
        // Overlong forms.
        {"\xC0\xAF", fffd},
        {"\xC1\xBF", fffd},
        {"\xE0\x80\xAF", fffd},
        {"\xE0\x9F\xBF", fffd},
        {"\xF0\x80\x80\xAF", fffd},
        {"\xF0\x8F\xBF\xBF", fffd},
        // UTF-16 surrogates.
        {"\xED\xA0\x80", fffd},
        {"\xED\xBF\xBF", fffd},
        {"\xED\xA0\xBD\xED\xB8\x80", fffd + fffd},
        // Beyond U+10FFFF.
        {"\xF4\x90\x80\x80", fffd},
        {"\xF5\x80\x80\x80", fffd},
        {"\xF7\xBF\xBF\xBF", fffd},
        // Mixed with plain text long enough to take the 8-byte path.
        {"abcdefgh\xFFijklmnop", "abcdefgh" + fffd + "ijklmnop"},
    };
    for (const auto& tc : cases) {
        BOOST_TEST_CONTEXT("input bytes " << tc.in)
        {
            const std::string out = quoted(tc.in);
            BOOST_TEST(out == '"' + tc.out + '"');
            // The result is always valid JSON with valid UTF-8 (Boost.JSON rejects invalid).
            boost::system::error_code ec;
            json::parse(out, ec);
            BOOST_TEST(!ec);
        }
    }
}

BOOST_AUTO_TEST_CASE(json_string_round_trips_through_boost_json)
{
    std::string all;
    for (int b = 0; b < 0x80; ++b)
        all += static_cast<char>(b);
    all += "caf\u00e9 \U0001F600 \xEF\xBF\xBF";
    boost::system::error_code ec;
    const json::value v = json::parse(quoted(all), ec);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(v.as_string() == all);
}

BOOST_AUTO_TEST_CASE(appends_after_existing_content)
{
    std::string out = "prefix";
    append_json_string(out, "x");
    BOOST_TEST(out == "prefix\"x\"");
    append_pong_frame(out, 1, "");
    BOOST_TEST(out == R"(prefix"x"{"type":"pong","timestamp":1})");
}

BOOST_AUTO_TEST_CASE(session_frame)
{
    std::string out;
    append_session_frame(out, "abc", false, 0, 0, 1);
    BOOST_TEST(
        out ==
        R"({"type":"session","session":"abc","resumed":false,"protocol":1,"last_seq":0,"first_seq":0,"connections":1})"
    );
    out.clear();
    append_session_frame(out, "s-_1", true, 42, 7, 3);
    BOOST_TEST(
        out ==
        R"({"type":"session","session":"s-_1","resumed":true,"protocol":1,"last_seq":42,"first_seq":7,"connections":3})"
    );
    const auto o = parse_object(out);
    BOOST_TEST(o.size() == 7u);
    BOOST_TEST(o.at("connections").to_number<std::uint64_t>() == 3u);
    BOOST_TEST(o.at("type").as_string() == "session");
    BOOST_TEST(o.at("session").as_string() == "s-_1");
    BOOST_TEST(o.at("resumed").as_bool() == true);
    BOOST_TEST(o.at("protocol").to_number<int>() == 1);
    BOOST_TEST(o.at("last_seq").to_number<std::uint64_t>() == 42u);
    BOOST_TEST(o.at("first_seq").to_number<std::uint64_t>() == 7u);
}

BOOST_AUTO_TEST_CASE(history_frame)
{
    std::string out;
    append_history_frame(out, {}, 0);
    BOOST_TEST(out == R"({"type":"history","messages":[],"through_seq":0})");
    out.clear();
    const std::vector<history_message> messages{
        {"user", "say \"hi\"", "m1"},
        {"assistant", "hi\n", "m1"},
    };
    append_history_frame(out, messages, 9);
    BOOST_TEST(
        out ==
        R"({"type":"history","messages":[{"role":"user","content":"say \"hi\"","id":"m1"},{"role":"assistant","content":"hi\n","id":"m1"}],"through_seq":9})"
    );
    const auto o = parse_object(out);
    BOOST_TEST(o.at("messages").as_array().size() == 2u);
    BOOST_TEST(
        o.at("messages").as_array()[0].as_object().at("content").as_string() == "say \"hi\""
    );
}

BOOST_AUTO_TEST_CASE(token_and_reasoning_frames)
{
    std::string out;
    append_token_frame(out, "token", "hi", 1, 3, "m1");
    BOOST_TEST(out == R"({"type":"token","content":"hi","timestamp":1,"seq":3,"id":"m1"})");

    out.clear();
    const auto max_seq = std::numeric_limits<std::uint64_t>::max();
    append_token_frame(out, "reasoning", "a \"b\"\n", 1700000000123, max_seq, "r-2");
    BOOST_TEST(
        out ==
        R"({"type":"reasoning","content":"a \"b\"\n","timestamp":1700000000123,"seq":18446744073709551615,"id":"r-2"})"
    );
    const auto o = parse_object(out);
    BOOST_TEST(o.size() == 5u);
    BOOST_TEST(o.at("type").as_string() == "reasoning");
    BOOST_TEST(o.at("content").as_string() == "a \"b\"\n");
    BOOST_TEST(o.at("timestamp").as_int64() == 1700000000123);
    BOOST_TEST(o.at("seq").as_uint64() == max_seq);
    BOOST_TEST(o.at("id").as_string() == "r-2");
}

BOOST_AUTO_TEST_CASE(stream_end_frames)
{
    std::string out;
    stream_end_fields f;
    f.id = "m1";
    f.seq = 9;
    f.reason = "stop";
    f.usage = token_usage{12, 34};
    f.ttft_ms = 150;
    f.total_ms = 900;
    append_stream_end_frame(out, f);
    BOOST_TEST(
        out ==
        R"({"type":"stream_end","id":"m1","seq":9,"reason":"stop","usage":{"prompt_tokens":12,"completion_tokens":34},"timing":{"ttft_ms":150,"total_ms":900}})"
    );
    auto o = parse_object(out);
    BOOST_TEST(o.size() == 6u);
    BOOST_TEST(o.at("type").as_string() == "stream_end");
    BOOST_TEST(o.at("id").as_string() == "m1");
    BOOST_TEST(o.at("seq").as_int64() == 9);
    BOOST_TEST(o.at("reason").as_string() == "stop");
    BOOST_TEST(o.at("usage").at("prompt_tokens").as_int64() == 12);
    BOOST_TEST(o.at("usage").at("completion_tokens").as_int64() == 34);
    BOOST_TEST(o.at("timing").at("ttft_ms").as_int64() == 150);
    BOOST_TEST(o.at("timing").at("total_ms").as_int64() == 900);

    out.clear();
    f.reason = "cancelled";
    f.usage.reset();
    f.ttft_ms = -1;
    f.total_ms = 5;
    append_stream_end_frame(out, f);
    BOOST_TEST(
        out ==
        R"({"type":"stream_end","id":"m1","seq":9,"reason":"cancelled","timing":{"ttft_ms":null,"total_ms":5}})"
    );
    o = parse_object(out);
    BOOST_TEST(o.size() == 5u);
    BOOST_TEST(!o.contains("usage"));
    BOOST_TEST(o.at("reason").as_string() == "cancelled");
    BOOST_TEST(o.at("timing").at("ttft_ms").is_null());
    BOOST_TEST(o.at("timing").at("total_ms").as_int64() == 5);
}

BOOST_AUTO_TEST_CASE(stream_end_usage_carries_cost_and_the_estimated_mark)
{
    std::string out;
    stream_end_fields f;
    f.id = "m2";
    f.seq = 4;
    f.reason = "stop";
    f.usage = token_usage{3, 8};
    f.ttft_ms = 1;
    f.total_ms = 2;
    f.cost_usd = "0.000019";
    append_stream_end_frame(out, f);
    BOOST_TEST(
        out ==
        R"({"type":"stream_end","id":"m2","seq":4,"reason":"stop","usage":{"prompt_tokens":3,"completion_tokens":8,"cost_usd":0.000019},"timing":{"ttft_ms":1,"total_ms":2}})"
    );
    auto o = parse_object(out);
    BOOST_TEST(o.at("usage").at("cost_usd").as_double() == 0.000019);
    BOOST_TEST(!o.at("usage").as_object().contains("estimated"));

    out.clear();
    f.usage_estimated = true;
    f.cost_usd.clear();
    append_stream_end_frame(out, f);
    BOOST_TEST(
        out ==
        R"({"type":"stream_end","id":"m2","seq":4,"reason":"stop","usage":{"prompt_tokens":3,"completion_tokens":8,"estimated":true},"timing":{"ttft_ms":1,"total_ms":2}})"
    );
    o = parse_object(out);
    BOOST_TEST(o.at("usage").at("estimated").as_bool());

    // Without usage neither field has anywhere to go; text that is not a number never
    // reaches the frame.
    out.clear();
    f.usage.reset();
    f.cost_usd = "1";
    append_stream_end_frame(out, f);
    BOOST_TEST(
        out ==
        R"({"type":"stream_end","id":"m2","seq":4,"reason":"stop","timing":{"ttft_ms":1,"total_ms":2}})"
    );
    out.clear();
    f.usage = token_usage{1, 1};
    f.usage_estimated = false;
    f.cost_usd = "1}";
    append_stream_end_frame(out, f);
    BOOST_TEST(
        out ==
        R"({"type":"stream_end","id":"m2","seq":4,"reason":"stop","usage":{"prompt_tokens":1,"completion_tokens":1},"timing":{"ttft_ms":1,"total_ms":2}})"
    );
}

BOOST_AUTO_TEST_CASE(pong_frames)
{
    std::string out;
    append_pong_frame(out, 1700000000999, "1700000000123");
    BOOST_TEST(
        out == R"({"type":"pong","timestamp":1700000000999,"client_timestamp":1700000000123})"
    );
    auto o = parse_object(out);
    BOOST_TEST(o.size() == 3u);
    BOOST_TEST(o.at("type").as_string() == "pong");
    BOOST_TEST(o.at("timestamp").as_int64() == 1700000000999);
    BOOST_TEST(o.at("client_timestamp").as_int64() == 1700000000123);

    out.clear();
    append_pong_frame(out, 5, "1.5E0");
    BOOST_TEST(out == R"({"type":"pong","timestamp":5,"client_timestamp":1.5E0})");
    BOOST_TEST(parse_object(out).at("client_timestamp").as_double() == 1.5);

    out.clear();
    append_pong_frame(out, 5, "");
    BOOST_TEST(out == R"({"type":"pong","timestamp":5})");
    o = parse_object(out);
    BOOST_TEST(o.size() == 2u);
    BOOST_TEST(o.at("timestamp").as_int64() == 5);

    // Raw text that is not a number cannot reach the frame.
    out.clear();
    append_pong_frame(out, 5, R"(1,"x":2)");
    BOOST_TEST(out == R"({"type":"pong","timestamp":5})");
}

BOOST_AUTO_TEST_CASE(error_frames)
{
    std::string out;
    append_error_frame(out, errc::rate_limited, "slow down", "m1", 1500);
    BOOST_TEST(
        out ==
        R"({"type":"error","code":"rate_limited","message":"slow down","id":"m1","retry_after_ms":1500})"
    );
    auto o = parse_object(out);
    BOOST_TEST(o.size() == 5u);
    BOOST_TEST(o.at("type").as_string() == "error");
    BOOST_TEST(o.at("code").as_string() == "rate_limited");
    BOOST_TEST(o.at("message").as_string() == "slow down");
    BOOST_TEST(o.at("id").as_string() == "m1");
    BOOST_TEST(o.at("retry_after_ms").as_int64() == 1500);

    out.clear();
    append_error_frame(out, errc::busy, "a generation is running");
    BOOST_TEST(out == R"({"type":"error","code":"busy","message":"a generation is running"})");
    o = parse_object(out);
    BOOST_TEST(o.size() == 3u);
    BOOST_TEST(o.at("code").as_string() == "busy");

    out.clear();
    append_error_frame(out, errc::overloaded, "try \"later\"", {}, 0);
    BOOST_TEST(
        out ==
        R"({"type":"error","code":"overloaded","message":"try \"later\"","retry_after_ms":0})"
    );
    o = parse_object(out);
    BOOST_TEST(o.size() == 4u);
    BOOST_TEST(o.at("message").as_string() == "try \"later\"");
    BOOST_TEST(o.at("retry_after_ms").as_int64() == 0);

    out.clear();
    append_error_frame(out, errc::bad_request, "content must be a non-empty string", "c1");
    BOOST_TEST(
        out ==
        R"({"type":"error","code":"bad_request","message":"content must be a non-empty string","id":"c1"})"
    );
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::protocol
