// Fuzzes the DOM-free JSON string writer (lib/tokenrelay/protocol/server_frame.hpp). Its
// output goes out as a WebSocket text message, which must be valid UTF-8 (RFC 6455
// section 5.6): so it must always be valid UTF-8 and valid JSON, and for valid UTF-8 input
// it must parse back to exactly the input. Whole token and error frames are checked too.
#include "reference_utf8.hpp"
#include <tokenrelay/protocol/server_frame.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using namespace tokenrelay::protocol;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "server_frame_fuzz: %s\n", what);
        std::abort();
    }
}

using fuzz_reference::valid_utf8;

// The frame must be one JSON object; returns it.
json::object parse_frame(const std::string& frame)
{
    check(valid_utf8(frame), "frame is not valid UTF-8");
    boost::system::error_code ec;
    json::value v = json::parse(frame, ec);
    check(!ec && v.is_object(), "frame is not a JSON object");
    return std::move(v.get_object());
}

void check_text(const json::object& o, std::string_view key, std::string_view input)
{
    const auto* v = o.if_contains(key);
    check(v && v->is_string(), "text field missing or not a string");
    if (valid_utf8(input))
        check(v->get_string() == input, "valid UTF-8 did not round-trip");
    else
        check(v->get_string() != input, "invalid UTF-8 passed through");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(bytes), size);

    // Appends to what is already there, as frames are built.
    std::string out = "x";
    append_json_string(out, input);
    check(out.size() >= 3 && out.front() == 'x', "prefix lost");
    const std::string quoted = out.substr(1);
    check(quoted.front() == '"' && quoted.back() == '"', "not quoted");
    check(valid_utf8(quoted), "output is not valid UTF-8");
    for (const char c : quoted)
        check(static_cast<unsigned char>(c) >= 0x20, "raw control character in output");
    boost::system::error_code ec;
    const json::value v = json::parse(quoted, ec);
    check(!ec && v.is_string(), "output does not parse as a JSON string");
    if (valid_utf8(input))
        check(v.get_string() == input, "valid UTF-8 did not round-trip");

    // The same bytes as the content and id of whole frames.
    const std::size_t split = size == 0 ? 0 : bytes[0] % (size + 1);
    const std::string_view content = input.substr(split);
    const std::string_view id = input.substr(0, split);

    std::string token;
    append_token_frame(token, "token", content, 1700000000000, 42, id);
    const json::object t = parse_frame(token);
    check_text(t, "content", content);
    check_text(t, "id", id);
    check(t.at("seq").as_int64() == 42, "token seq");

    std::string error;
    append_error_frame(error, tokenrelay::errc::rate_limited, content, id, 1500);
    const json::object e = parse_frame(error);
    check(e.at("code").as_string() == "rate_limited", "error code");
    check_text(e, "message", content);
    if (!id.empty())
        check_text(e, "id", id);
    check(e.at("retry_after_ms").as_int64() == 1500, "retry_after_ms");

    // The pong echoes the ping's timestamp as raw text; its contract is a JSON number
    // (client_frame_fuzz checks what decoding hands it), so only such text is given here.
    const json::value number = json::parse(content, ec);
    if (!ec && number.is_number() && json::serialize(number) == content) {
        std::string pong;
        append_pong_frame(pong, 5, content);
        const json::object p = parse_frame(pong);
        check(p.at("client_timestamp") == number, "pong changed the timestamp");
    }
    return 0;
}
