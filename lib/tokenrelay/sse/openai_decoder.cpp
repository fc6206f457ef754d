// One `data:` payload of an OpenAI-compatible chat.completion.chunk stream (PROTOCOL.md
// section 6). Only choices[0] matters: the relay always asks for one completion.
//
// Two readers, one meaning. Every payload goes first through a streaming reader
// (basic_parser events, no value tree: the tree measured at 18% of the relay's
// work per token). It notes what each member that matters turned out to be and judges
// them only once the whole text parsed, in the order the tree reader checks them, so
// both name the same first problem and a syntax error anywhere still wins. It hands the
// payload to the tree reader when the answer needs more than it keeps: a non-null `error`
// (its message may be the member serialised) or a member that matters given twice in
// one object (Boost.JSON 1.81 keeps the last of duplicate keys; the tree has exactly
// that).
#include <tokenrelay/sse/json_fields.hpp>
#include <tokenrelay/sse/openai_chunk_reader.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>

namespace tokenrelay::sse {

namespace json = boost::json;

namespace {

using detail::json_field;
using detail::read_count;
using detail::read_string;
using error_code = boost::system::error_code;
using detail::chunk_reader;
namespace reason = detail::reason;

} // namespace

struct openai_decoder::streaming
{
    json::basic_parser<chunk_reader> parser{json::parse_options{}};
};

openai_decoder::openai_decoder() : streaming_(std::make_unique<streaming>())
{}

openai_decoder::~openai_decoder() = default;

bool openai_decoder::decode(std::string_view data, openai_chunk& out)
{
    out.clear();
    why_.clear();

    if (data == "[DONE]") {
        out.done = true;
        return true;
    }

    auto& parser = streaming_->parser;
    parser.reset();
    parser.handler().start(out);
    error_code ec;
    auto const n = parser.write_some(false, data.data(), data.size(), ec);
    if (parser.handler().handed_over()) {
        out.clear();
        return decode_dom(data, out);
    }
    // As json::parser::write: one value, then only whitespace.
    if (!ec && n < data.size())
        ec = json::error::extra_data;
    if (ec) {
        why_.assign(reason::malformed);
        why_ += ec.message();
        return false;
    }
    if (auto const why = parser.handler().verdict(out); !why.empty())
        return fail(why);
    return true;
}

bool openai_decoder::decode_dom(std::string_view data, openai_chunk& out)
{
    resource_.emplace(arena_, sizeof arena_);
    parser_.reset(json::storage_ptr(&*resource_));
    bool const ok = decode_json(data, out);
    // After a syntax error the parser may still hold a partial value in the arena: drop
    // every reference to it before the arena is reused.
    parser_.reset();
    resource_.reset();
    return ok;
}

bool openai_decoder::decode_json(std::string_view data, openai_chunk& out)
{
    boost::system::error_code ec;
    parser_.write(data.data(), data.size(), ec);
    if (ec) {
        why_.assign(reason::malformed);
        why_ += ec.message();
        return false;
    }
    json::value const root = parser_.release();
    auto const* chunk = root.if_object();
    if (chunk == nullptr) {
        return fail(reason::not_an_object);
    }

    // An `error` member makes the event an upstream error even inside a 200 response
    // (PROTOCOL.md section 6). A null one is how some servers say "no error".
    if (auto const* error = chunk->if_contains("error"); error != nullptr && !error->is_null()) {
        out.is_error = true;
        if (auto const* s = error->if_string()) {
            out.error_message.assign(s->data(), s->size());
        } else if (auto const* o = error->if_object();
                   o != nullptr && o->contains("message") && o->at("message").is_string()) {
            auto const& m = o->at("message").get_string();
            out.error_message.assign(m.data(), m.size());
        } else {
            out.error_message = json::serialize(*error);
        }
        return true;
    }

    if (auto const* choices = chunk->if_contains("choices")) {
        if (!decode_choices(*choices, out)) {
            return false;
        }
    }
    if (auto const* usage = chunk->if_contains("usage")) {
        if (!decode_usage(*usage, out)) {
            return false;
        }
    }
    // Groq puts the counts in `x_groq.usage`; read there only when the standard place
    // has none, and only an object (the extra is Groq's to shape).
    if (!out.usage) {
        if (auto const* x = chunk->if_contains("x_groq"); x != nullptr && x->is_object()) {
            if (auto const* usage = x->get_object().if_contains("usage");
                usage != nullptr && usage->is_object()) {
                return decode_usage(*usage, out);
            }
        }
    }
    return true;
}

bool openai_decoder::decode_choices(json::value const& choices, openai_chunk& out)
{
    // The final usage chunk carries `choices: []` or `choices: null` (PROTOCOL.md
    // section 6: servers differ).
    if (choices.is_null()) {
        return true;
    }
    auto const* list = choices.if_array();
    if (list == nullptr) {
        return fail(reason::choices);
    }
    if (list->empty()) {
        return true;
    }
    auto const* choice = list->front().if_object();
    if (choice == nullptr) {
        return fail(reason::choice);
    }
    out.has_choice = true;

    if (auto const* delta_value = choice->if_contains("delta");
        delta_value != nullptr && !delta_value->is_null()) {
        auto const* delta = delta_value->if_object();
        if (delta == nullptr) {
            return fail(reason::delta);
        }
        if (!decode_content(*delta, out)) {
            return false;
        }
        // DeepSeek and vLLM say `reasoning_content`, OpenRouter and Ollama `reasoning`.
        switch (read_string(*delta, "reasoning_content", out.reasoning)) {
        case json_field::ok:
            break;
        case json_field::wrong_type:
            return fail(reason::reasoning_content);
        case json_field::absent:
            if (read_string(*delta, "reasoning", out.reasoning) == json_field::wrong_type) {
                return fail(reason::reasoning);
            }
            break;
        }
        if (read_string(*delta, "refusal", out.refusal) == json_field::wrong_type) {
            return fail(reason::refusal);
        }
    }

    if (read_string(*choice, "finish_reason", out.finish_reason) == json_field::wrong_type) {
        return fail(reason::finish_reason);
    }
    return true;
}

// A string, or (Mistral's reasoning models) a list of parts: `text` parts are the reply,
// `thinking` parts (a list of text parts, or a string) its reasoning. Parts of other
// types (references, images) carry no text to relay and are passed over.
bool openai_decoder::decode_content(json::object const& delta, openai_chunk& out)
{
    auto const* content = delta.if_contains("content");
    if (content == nullptr || content->is_null()) {
        return true;
    }
    if (auto const* s = content->if_string()) {
        out.content.assign(s->data(), s->size());
        return true;
    }
    auto const* parts = content->if_array();
    if (parts == nullptr) {
        return fail(reason::content);
    }
    auto const append_text = [](json::value const& part, std::string& to) {
        auto const* o = part.if_object();
        if (o == nullptr) {
            return false;
        }
        auto const* text = o->if_contains("text");
        if (text == nullptr || !text->is_string()) {
            return false;
        }
        to.append(text->get_string().data(), text->get_string().size());
        return true;
    };
    for (auto const& part : *parts) {
        auto const* o = part.if_object();
        if (o == nullptr) {
            return fail(reason::content_part);
        }
        auto const* type = o->if_contains("type");
        std::string_view const kind = type != nullptr && type->is_string()
                                          ? std::string_view(type->get_string())
                                          : std::string_view(type == nullptr ? "text" : "");
        if (kind == "thinking") {
            auto const* thinking = o->if_contains("thinking");
            if (thinking != nullptr && thinking->is_string()) {
                out.reasoning.append(thinking->get_string().data(), thinking->get_string().size());
                continue;
            }
            if (thinking == nullptr || !thinking->is_array()) {
                return fail(reason::content_part);
            }
            for (auto const& inner : thinking->get_array()) {
                if (!append_text(inner, out.reasoning)) {
                    return fail(reason::content_part);
                }
            }
        } else if (kind == "text") {
            if (!append_text(part, out.content)) {
                return fail(reason::content_part);
            }
        }
    }
    return true;
}

bool openai_decoder::decode_usage(json::value const& usage, openai_chunk& out)
{
    if (usage.is_null()) {
        return true;
    }
    auto const* o = usage.if_object();
    if (o == nullptr) {
        return fail(reason::usage);
    }
    token_usage counts;
    if (read_count(*o, "prompt_tokens", counts.prompt_tokens) == json_field::wrong_type) {
        return fail(reason::prompt_tokens);
    }
    if (read_count(*o, "completion_tokens", counts.completion_tokens) == json_field::wrong_type) {
        return fail(reason::completion_tokens);
    }
    out.usage = counts;
    return true;
}

bool openai_decoder::fail(std::string_view why)
{
    why_.assign(why);
    return false;
}

} // namespace tokenrelay::sse
