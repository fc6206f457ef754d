// Fuzzes the OpenAI chunk decoder (lib/tokenrelay/sse/openai_decoder.hpp). One decoder is
// kept across inputs, as the relay keeps one per stream, so its arena and parser reuse is
// exercised; every result is checked against a plain DOM reading of PROTOCOL.md section 6,
// and a fixed valid chunk must still decode after whatever came before.
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
    return a.content == b.content && a.reasoning == b.reasoning &&
           a.finish_reason == b.finish_reason && a.usage == b.usage && a.done == b.done &&
           a.is_error == b.is_error && a.error_message == b.error_message;
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

// What the decoder must answer for `data`, from a fresh DOM parse: false when the chunk
// is not acceptable.
bool expected_chunk(std::string_view data, openai_chunk& out)
{
    out = openai_chunk{};
    if (data == "[DONE]") {
        out.done = true;
        return true;
    }
    boost::system::error_code ec;
    const json::value root = json::parse(data, ec);
    if (ec || !root.is_object())
        return false;
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
            return false;
        const auto& list = choices->get_array();
        if (!list.empty()) {
            if (!list[0].is_object())
                return false;
            const auto& choice = list[0].get_object();
            bool present = false;
            if (const auto* delta = choice.if_contains("delta"); delta && !delta->is_null()) {
                if (!delta->is_object())
                    return false;
                const auto& d = delta->get_object();
                if (!text_of(d, "content", out.content, present))
                    return false;
                if (!text_of(d, "reasoning_content", out.reasoning, present))
                    return false;
                if (!present && !text_of(d, "reasoning", out.reasoning, present))
                    return false;
            }
            if (!text_of(choice, "finish_reason", out.finish_reason, present))
                return false;
        }
    }
    if (const auto* usage = chunk.if_contains("usage"); usage && !usage->is_null()) {
        if (!usage->is_object())
            return false;
        tokenrelay::token_usage counts;
        if (!count_of(usage->get_object(), "prompt_tokens", counts.prompt_tokens) ||
            !count_of(usage->get_object(), "completion_tokens", counts.completion_tokens))
            return false;
        out.usage = counts;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    static openai_decoder shared; // lives across inputs, like the one in a stream
    const std::string_view data(reinterpret_cast<const char*>(bytes), size);

    openai_chunk got;
    const bool ok = shared.decode(data, got);
    check(ok || !shared.why().empty(), "failure without a reason");
    check(!ok || shared.why().empty(), "success with a reason left over");

    openai_chunk want;
    const bool want_ok = expected_chunk(data, want);
    check(ok == want_ok, "accepts or rejects unlike the DOM reading");
    if (ok)
        check(same(got, want), "decoded fields differ from the DOM reading");

    openai_chunk fresh;
    openai_decoder other;
    check(other.decode(data, fresh) == ok, "a fresh decoder answers differently");
    if (ok)
        check(same(fresh, got), "a fresh decoder decodes differently");

    // Whatever the previous input left behind, the next ordinary chunk decodes.
    openai_chunk after;
    constexpr std::string_view known =
        R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})";
    check(shared.decode(known, after), "known chunk rejected after fuzz input");
    check(after.content == "Hi" && after.finish_reason.empty() && !after.usage, "known chunk");
    return 0;
}
