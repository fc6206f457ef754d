// Fuzzes the OpenAI chunk decoder (lib/tokenrelay/sse/openai_decoder.hpp). One decoder is
// kept across inputs, as the relay keeps one per stream, so its parsers' reuse is
// exercised; every result, failure reason included, is checked against a plain DOM reading
// of PROTOCOL.md section 6, and a fixed valid chunk must still decode after whatever came
// before. The decoder reads most payloads from parser events without a value tree
// (it costs per token), so the DOM reading is the differential oracle: the input is also tried
// where that reader keeps state (inside delta, choices, usage, the root object), and, when it is
// JSON, rewritten with every string and key character escaped, which must not change the
// answer.
#include <tokenrelay/sse/openai_decoder.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using tokenrelay::sse::openai_chunk;
using tokenrelay::sse::openai_decoder;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "openai_decoder_fuzz: %s\n", what);
        std::abort();
    }
}

bool same(const openai_chunk& a, const openai_chunk& b)
{
    return a.content == b.content && a.reasoning == b.reasoning && a.refusal == b.refusal &&
           a.finish_reason == b.finish_reason && a.usage == b.usage &&
           a.has_choice == b.has_choice && a.done == b.done && a.is_error == b.is_error &&
           a.error_message == b.error_message;
}

// A text member as the decoder reads it: absent and null are "", a string is itself,
// anything else makes the chunk invalid.
bool text_of(const json::object& o, std::string_view key, std::string& out, bool& present)
{
    out.clear();
    present = false;
    const auto* v = o.if_contains(key);
    if (!v || v->is_null())
        return true;
    const auto* s = v->if_string();
    if (!s)
        return false;
    out.assign(s->data(), s->size());
    present = true;
    return true;
}

// Content as a list of parts: a part is an object; its type (absent: "text") says what
// it is. A text part's string `text` is content; a thinking part's `thinking`, a string or
// a list of objects with a string `text`, is reasoning; other types are passed over.
bool parts_of(const json::array& parts, std::string& content, std::string& thinking)
{
    const auto text_in = [](const json::value& v, std::string& to) {
        if (!v.is_object() || !v.get_object().contains("text") ||
            !v.get_object().at("text").is_string())
            return false;
        to += v.get_object().at("text").get_string();
        return true;
    };
    for (const auto& part : parts) {
        if (!part.is_object())
            return false;
        const auto& o = part.get_object();
        std::string type = "text";
        if (o.contains("type"))
            type = o.at("type").is_string() ? std::string(o.at("type").get_string()) : "";
        if (type == "text") {
            if (!text_in(part, content))
                return false;
        } else if (type == "thinking") {
            if (!o.contains("thinking"))
                return false;
            const auto& t = o.at("thinking");
            if (t.is_string()) {
                thinking += t.get_string();
            } else if (t.is_array()) {
                for (const auto& inner : t.get_array())
                    if (!text_in(inner, thinking))
                        return false;
            } else {
                return false;
            }
        }
    }
    return true;
}

bool count_of(const json::object& o, std::string_view key, std::int64_t& out)
{
    out = 0;
    const auto* v = o.if_contains(key);
    if (!v || v->is_null())
        return true;
    if (v->is_int64())
        return (out = v->get_int64()) >= 0;
    if (v->is_uint64() &&
        v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = static_cast<std::int64_t>(v->get_uint64());
        return true;
    }
    return false;
}

// What the decoder must answer for `data`, from a fresh DOM parse: false, with the reason
// decode() gives, when the chunk is not acceptable.
bool expected_chunk(std::string_view data, openai_chunk& out, std::string& why)
{
    out = openai_chunk{};
    why.clear();
    if (data == "[DONE]") {
        out.done = true;
        return true;
    }
    boost::system::error_code ec;
    const json::value root = json::parse(data, ec);
    if (ec) {
        why = "malformed JSON in stream event: " + ec.message();
        return false;
    }
    if (!root.is_object()) {
        why = "stream event is not a JSON object";
        return false;
    }
    const auto fail = [&why](const char* reason) {
        why = reason;
        return false;
    };
    const auto& chunk = root.get_object();
    if (const auto* error = chunk.if_contains("error"); error && !error->is_null()) {
        out.is_error = true;
        if (error->is_string()) {
            out.error_message = error->get_string();
        } else if (error->is_object() && error->get_object().contains("message") &&
                   error->get_object().at("message").is_string()) {
            out.error_message = error->get_object().at("message").get_string();
        } else {
            out.error_message = json::serialize(*error);
        }
        return true;
    }
    if (const auto* choices = chunk.if_contains("choices"); choices && !choices->is_null()) {
        if (!choices->is_array())
            return fail("choices is not an array");
        const auto& list = choices->get_array();
        if (!list.empty()) {
            if (!list[0].is_object())
                return fail("choices[0] is not an object");
            const auto& choice = list[0].get_object();
            out.has_choice = true;
            bool present = false;
            if (const auto* delta = choice.if_contains("delta"); delta && !delta->is_null()) {
                if (!delta->is_object())
                    return fail("choices[0].delta is not an object");
                const auto& d = delta->get_object();
                std::string thinking;
                if (const auto* content = d.if_contains("content");
                    content && content->is_array()) {
                    if (!parts_of(content->get_array(), out.content, thinking))
                        return fail(
                            "choices[0].delta.content holds a part that is not an object with "
                            "a string text or thinking"
                        );
                } else if (!text_of(d, "content", out.content, present)) {
                    return fail("choices[0].delta.content is not a string or a list of parts");
                }
                if (!text_of(d, "reasoning_content", out.reasoning, present))
                    return fail("choices[0].delta.reasoning_content is not a string");
                if (!present && !text_of(d, "reasoning", out.reasoning, present))
                    return fail("choices[0].delta.reasoning is not a string");
                if (!present) // reasoning_content or reasoning, when given, replace it
                    out.reasoning = thinking;
                if (!text_of(d, "refusal", out.refusal, present))
                    return fail("choices[0].delta.refusal is not a string");
            }
            if (!text_of(choice, "finish_reason", out.finish_reason, present))
                return fail("choices[0].finish_reason is not a string");
        }
    }
    const json::value* usage = chunk.if_contains("usage");
    if (!usage || usage->is_null()) { // Groq's place, when it is an object holding one
        usage = nullptr;
        const auto* x = chunk.if_contains("x_groq");
        if (x && x->is_object() && x->get_object().contains("usage") &&
            x->get_object().at("usage").is_object())
            usage = &x->get_object().at("usage");
    }
    if (usage) {
        if (!usage->is_object())
            return fail("usage is not an object");
        tokenrelay::token_usage counts;
        if (!count_of(usage->get_object(), "prompt_tokens", counts.prompt_tokens))
            return fail("usage.prompt_tokens is not a non-negative integer");
        if (!count_of(usage->get_object(), "completion_tokens", counts.completion_tokens))
            return fail("usage.completion_tokens is not a non-negative integer");
        out.usage = counts;
    }
    return true;
}

// Decodes `data` with `decoder` and checks the answer against the DOM reading.
void check_decode(openai_decoder& decoder, std::string_view data, openai_chunk& got)
{
    const bool ok = decoder.decode(data, got);
    check(ok || !decoder.why().empty(), "failure without a reason");
    check(!ok || decoder.why().empty(), "success with a reason left over");

    openai_chunk want;
    std::string want_why;
    const bool want_ok = expected_chunk(data, want, want_why);
    check(ok == want_ok, "accepts or rejects unlike the DOM reading");
    if (ok)
        check(same(got, want), "decoded fields differ from the DOM reading");
    else
        check(decoder.why() == want_why, "failure reason differs from the DOM reading");
}

// `s` as a JSON string with every ASCII character escaped, so that the parser hands it
// over in parts; other bytes (valid UTF-8, as parsed) stay as they are.
void append_escaped_string(std::string& text, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    text += '"';
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x80) {
            text += "\\u00";
            text += hex[u >> 4];
            text += hex[u & 0xf];
        } else {
            text += c;
        }
    }
    text += '"';
}

// `v` as JSON text with every string and key escaped; false when that text would not
// parse back to `v`. Doubles need not: Boost.JSON 1.81 parses an overflowing number as
// infinity and 0e309 as NaN, which serialize() writes as the non-JSON "Infinity" and
// "NaN", and its parsing of long numbers is not correctly rounded, so the shortest text
// serialize() writes for a double may parse as a neighbouring one.
bool append_escaped(std::string& text, const json::value& v)
{
    if (const auto* o = v.if_object()) {
        text += '{';
        for (const auto& member : *o) {
            if (text.back() != '{')
                text += ',';
            append_escaped_string(text, std::string_view(member.key().data(), member.key().size()));
            text += ':';
            if (!append_escaped(text, member.value()))
                return false;
        }
        text += '}';
    } else if (const auto* a = v.if_array()) {
        text += '[';
        for (const auto& element : *a) {
            if (text.back() != '[')
                text += ',';
            if (!append_escaped(text, element))
                return false;
        }
        text += ']';
    } else if (const auto* str = v.if_string()) {
        append_escaped_string(text, std::string_view(str->data(), str->size()));
    } else if (const auto* d = v.if_double()) {
        const std::string number = json::serialize(v);
        boost::system::error_code ec;
        const json::value back = json::parse(number, ec);
        if (ec || !back.is_double() || back.get_double() != *d)
            return false;
        text += number;
    } else {
        text += json::serialize(v);
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    static openai_decoder shared; // lives across inputs, like the one in a stream
    const std::string_view data(reinterpret_cast<const char*>(bytes), size);

    openai_chunk got;
    check_decode(shared, data, got);
    const bool ok = shared.why().empty();

    openai_chunk fresh;
    openai_decoder other;
    check(other.decode(data, fresh) == ok, "a fresh decoder answers differently");
    if (ok)
        check(same(fresh, got), "a fresh decoder decodes differently");

    // The input as the value of each member the decoder reads, and as members of the
    // root object and of delta.
    static constexpr std::string_view frames[][2] = {
        {R"({"choices":[{"delta":)", R"(,"finish_reason":null}]})"},
        {R"({"choices":[{"delta":{"content":"a"},"finish_reason":)", "}]}"},
        {R"({"choices":[{"delta":{"content":)", R"(}}],"usage":{"prompt_tokens":1}})"},
        {R"({"choices":[)", R"(],"usage":null})"},
        {R"({"choices":)", R"(,"usage":{"prompt_tokens":1,"completion_tokens":2}})"},
        {R"({"usage":{"prompt_tokens":)", R"(,"completion_tokens":2},"choices":[]})"},
        {R"({"id":"x",)", R"(,"choices":[{"delta":{"content":"b"}}]})"},
        {R"({"choices":[{"delta":{"reasoning":"r",)", R"(}}]})"},
    };
    std::string framed;
    for (const auto& frame : frames) {
        framed.assign(frame[0]);
        framed.append(data);
        framed.append(frame[1]);
        check_decode(shared, framed, got);
    }

    // Escaping every character must not change the answer, whatever the keys and values.
    boost::system::error_code ec;
    const json::value parsed = json::parse(data, ec);
    std::string escaped;
    if (!ec && append_escaped(escaped, parsed)) {
        openai_chunk plain;
        const bool plain_ok = shared.decode(data, plain);
        const std::string plain_why(shared.why());
        openai_chunk from_escaped;
        check(
            shared.decode(escaped, from_escaped) == plain_ok && shared.why() == plain_why,
            "escaped text answers differently"
        );
        if (plain_ok)
            check(same(from_escaped, plain), "escaped text decodes differently");
    }

    // Whatever the previous input left behind, the next ordinary chunk decodes.
    openai_chunk after;
    constexpr std::string_view known =
        R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})";
    check(shared.decode(known, after), "known chunk rejected after fuzz input");
    check(after.content == "Hi" && after.finish_reason.empty() && !after.usage, "known chunk");
    return 0;
}
