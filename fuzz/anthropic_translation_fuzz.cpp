// Fuzzes the Anthropic-to-OpenAI stream translation (lib/tokenrelay/protocol/
// anthropic_translation.hpp) that the OpenAI-compatible API puts in front of an Anthropic
// upstream. The input is a stream of events, `<name>\n<data>` separated by NUL bytes, fed
// to one translator as one response's events are. Every chunk it writes must be a
// chat.completion.chunk a client can read: a JSON object with the meta's id and model and
// a `choices` array whose entries have index 0 and a `delta` object; tool-call deltas have
// an integer index; and once a finish reason is known it is one OpenAI names or the
// upstream's own. Whatever came before, a valid text delta still translates.
#include <tokenrelay/protocol/anthropic_translation.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
using namespace tokenrelay::protocol;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "anthropic_translation_fuzz: %s\n", what);
        std::abort();
    }
}

void check_chunk(const std::string& text)
{
    boost::system::error_code ec;
    const auto jv = json::parse(text, ec);
    check(!ec && jv.is_object(), "a chunk is a JSON object");
    const auto& o = jv.get_object();
    check(o.contains("id") && o.at("id") == json::value("chatcmpl-fuzz"), "a chunk has the id");
    check(o.contains("model") && o.at("model") == json::value("m"), "a chunk has the model");
    check(
        o.contains("object") && o.at("object") == json::value("chat.completion.chunk"),
        "a chunk is a chat.completion.chunk"
    );
    const auto* choices = o.if_contains("choices");
    check(choices && choices->is_array(), "a chunk has choices");
    for (const auto& c : choices->get_array()) {
        check(c.is_object(), "a choice is an object");
        const auto& choice = c.get_object();
        check(choice.contains("index") && choice.at("index") == json::value(0), "index 0");
        const auto* delta = choice.if_contains("delta");
        check(delta && delta->is_object(), "a choice has a delta");
        if (const auto* calls = delta->get_object().if_contains("tool_calls")) {
            check(calls->is_array(), "tool_calls is an array");
            for (const auto& call : calls->get_array())
                check(
                    call.is_object() && call.get_object().contains("index") &&
                        call.get_object().at("index").is_number(),
                    "a tool call delta has an index"
                );
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view input(reinterpret_cast<const char*>(data), size);
    anthropic_stream_translator translator({"chatcmpl-fuzz", 1, "m"});
    std::vector<std::string> chunks;
    while (!input.empty()) {
        const auto end = input.find('\0');
        auto event = input.substr(0, end);
        input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
        const auto nl = event.find('\n');
        const auto name = nl == std::string_view::npos ? std::string_view{} : event.substr(0, nl);
        const auto payload = nl == std::string_view::npos ? event : event.substr(nl + 1);
        chunks.clear();
        if (translator.feed(name, payload, chunks))
            for (const auto& c : chunks)
                check_chunk(c);
        else
            check(!translator.why().empty(), "a refusal says why");
    }
    chunks.clear();
    check(
        translator.feed(
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}})",
            chunks
        ),
        "a text delta translates after anything"
    );
    check(chunks.size() == 1, "a text delta is one chunk");
    check_chunk(chunks[0]);
    return 0;
}
