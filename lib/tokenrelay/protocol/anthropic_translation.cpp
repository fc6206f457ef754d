// Anthropic Messages API shapes: https://docs.anthropic.com/en/api/messages and
// https://docs.anthropic.com/en/api/messages-streaming; OpenAI's chat completions:
// https://platform.openai.com/docs/api-reference/chat.
#include <tokenrelay/core/json_text.hpp>
#include <tokenrelay/protocol/anthropic_translation.hpp>
#include <tokenrelay/protocol/json_values.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <iterator>

namespace tokenrelay::protocol {
namespace {

namespace json = boost::json;

using failure = std::optional<translation_error>;

translation_error untranslatable(std::string param, std::string_view detail = {})
{
    auto message = param + " has no equivalent in the Anthropic Messages API";
    if (!detail.empty())
        message += " (" + std::string(detail) + ")";
    return translation_error{std::move(param), std::move(message)};
}

translation_error invalid(std::string param, std::string_view must)
{
    auto message = param + " must be " + std::string(must);
    return translation_error{std::move(param), std::move(message)};
}

// JSON null stands for "not given" in OpenAI's API (the SDKs send it for unset options).
const json::value* given(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

bool equals(const json::value& v, std::string_view s)
{
    const auto* p = v.if_string();
    return p && *p == s;
}

const json::string* given_string(const json::object& o, std::string_view key)
{
    const auto* v = given(o, key);
    return v ? v->if_string() : nullptr;
}

std::string indexed(std::string_view path, std::size_t i)
{
    return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string member(std::string_view path, std::string_view key)
{
    return std::string(path) + "." + std::string(key);
}

/// Every member of `o` but the `known` ones (and nulls) would be lost in translation.
failure only_known(
    const json::object& o, std::string_view where, std::initializer_list<std::string_view> known
)
{
    for (const auto& m : o) {
        if (m.value().is_null())
            continue;
        if (std::find(known.begin(), known.end(), m.key()) == known.end())
            return untranslatable(member(where, m.key()));
    }
    return std::nullopt;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

bool ends_with_nocase(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() &&
           starts_with_nocase(s.substr(s.size() - suffix.size()), suffix);
}

json::object text_block(std::string_view text)
{
    return json::object{{"type", "text"}, {"text", text}};
}

/// A content part's type: each part is an object with a string `type`.
failure part_type(const json::value& v, const std::string& where, std::string_view& type)
{
    const auto* part = v.if_object();
    const auto* t = part ? given_string(*part, "type") : nullptr;
    if (!t)
        return invalid(member(where, "type"), "a string (each part is an object with a type)");
    type = *t;
    return std::nullopt;
}

/// A `{type: "text", text}` part's text.
failure text_of_part(const json::object& part, const std::string& where, std::string_view& text)
{
    if (auto err = only_known(part, where, {"type", "text"}))
        return err;
    const auto* t = given_string(part, "text");
    if (!t)
        return invalid(member(where, "text"), "a string");
    text = *t;
    return std::nullopt;
}

/// Content that may only hold text (system, developer and tool turns): the text of
/// each part, in order.
failure text_parts(
    const json::value& content, const std::string& where, std::vector<std::string_view>& texts
)
{
    if (const auto* s = content.if_string()) {
        texts.emplace_back(*s);
        return std::nullopt;
    }
    const auto* parts = content.if_array();
    if (!parts)
        return invalid(where, "a string or an array of text parts");
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const auto at = indexed(where, i);
        std::string_view type;
        if (auto err = part_type((*parts)[i], at, type))
            return err;
        if (type != "text")
            return untranslatable(at, "a " + std::string(type) + " part where only text fits");
        std::string_view text;
        if (auto err = text_of_part((*parts)[i].get_object(), at, text))
            return err;
        texts.push_back(text);
    }
    return std::nullopt;
}

/// An image URL as an Anthropic image source: a base64 `data:` URL carries the image
/// itself, an http(s) one is fetched by Anthropic.
std::variant<json::object, translation_error>
image_source(std::string_view url, const std::string& where)
{
    constexpr std::string_view data_scheme = "data:";
    constexpr std::string_view base64 = ";base64";
    if (starts_with_nocase(url, data_scheme)) {
        const auto comma = url.find(',');
        const auto header = url.substr(
            data_scheme.size(), comma == std::string_view::npos ? 0 : comma - data_scheme.size()
        );
        if (comma == std::string_view::npos || !ends_with_nocase(header, base64)) {
            return translation_error{
                where,
                where + " is a data: URL that is not base64, which has no equivalent in the "
                        "Anthropic Messages API (it takes data:<media type>;base64,<data>)"};
        }
        const auto media_type = header.substr(0, header.size() - base64.size());
        if (media_type.empty())
            return invalid(where, "a data: URL that names its media type");
        return json::object{
            {"type", "base64"}, {"media_type", media_type}, {"data", url.substr(comma + 1)}};
    }
    if (starts_with_nocase(url, "https:") || starts_with_nocase(url, "http:"))
        return json::object{{"type", "url"}, {"url", url}};
    return untranslatable(where, "only data: and http(s) image URLs have one");
}

failure append_image_block(const json::object& part, const std::string& where, json::array& out)
{
    if (auto err = only_known(part, where, {"type", "image_url"}))
        return err;
    const auto image_where = member(where, "image_url");
    const auto* image = given(part, "image_url");
    const auto* io = image ? image->if_object() : nullptr;
    if (!io)
        return invalid(image_where, "an object with a string url");
    if (auto err = only_known(*io, image_where, {"url", "detail"}))
        return err;
    // Anthropic picks the resolution itself, which is what "auto" asks for.
    if (const auto* detail = given(*io, "detail"); detail && !equals(*detail, "auto"))
        return untranslatable(member(image_where, "detail"), "only \"auto\" has one");
    const auto* url = given_string(*io, "url");
    if (!url)
        return invalid(member(image_where, "url"), "a string");
    auto source = image_source(*url, member(image_where, "url"));
    if (auto* err = std::get_if<translation_error>(&source))
        return std::move(*err);
    out.push_back(json::object{
        {"type", "image"}, {"source", std::move(std::get<json::object>(source))}});
    return std::nullopt;
}

// Anthropic refuses empty text blocks; leaving one out loses nothing.
void append_text_block(json::array& out, std::string_view text)
{
    if (!text.empty())
        out.push_back(text_block(text));
}

/// A user turn's parts as blocks: text and images.
failure append_user_blocks(const json::array& parts, const std::string& where, json::array& out)
{
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto at = indexed(where, i);
        std::string_view type;
        if (auto err = part_type(parts[i], at, type))
            return err;
        const auto& part = parts[i].get_object();
        if (type == "text") {
            std::string_view text;
            if (auto err = text_of_part(part, at, text))
                return err;
            append_text_block(out, text);
        } else if (type == "image_url") {
            if (auto err = append_image_block(part, at, out))
                return err;
        } else {
            return untranslatable(at, "a " + std::string(type) + " part");
        }
    }
    return std::nullopt;
}

/// The messages being built. Anthropic wants all the results of one assistant turn in
/// the next user turn, so consecutive tool turns, and a user turn right after them,
/// share one user turn.
struct conversation
{
    std::string system;
    bool has_system = false;
    json::array messages;
    bool after_tool_results = false; // the last user turn holds tool results
};

failure system_turn(const json::object& o, const std::string& where, conversation& c)
{
    if (auto err = only_known(o, where, {"role", "content"}))
        return err;
    const auto* content = given(o, "content");
    if (!content)
        return invalid(member(where, "content"), "a string or an array of text parts");
    std::vector<std::string_view> texts;
    if (auto err = text_parts(*content, member(where, "content"), texts))
        return err;
    // Turns are paragraphs of the one system prompt; the parts of a turn are one text.
    if (c.has_system)
        c.system += "\n\n";
    c.has_system = true;
    for (const auto text : texts)
        c.system += text;
    return std::nullopt;
}

failure user_turn(const json::object& o, const std::string& where, conversation& c)
{
    if (auto err = only_known(o, where, {"role", "content"}))
        return err;
    const auto content_where = member(where, "content");
    const auto* content = given(o, "content");
    const auto* text = content ? content->if_string() : nullptr;
    const auto* parts = content ? content->if_array() : nullptr;
    if (!text && !parts)
        return invalid(content_where, "a string or an array of parts");
    if (c.after_tool_results) {
        auto& blocks = c.messages.back().as_object()["content"].as_array();
        if (text)
            append_text_block(blocks, *text);
        else if (auto err = append_user_blocks(*parts, content_where, blocks))
            return err;
        return std::nullopt;
    }
    json::object turn{{"role", "user"}};
    if (text) {
        turn["content"] = *text;
    } else {
        json::array blocks;
        if (auto err = append_user_blocks(*parts, content_where, blocks))
            return err;
        turn["content"] = std::move(blocks);
    }
    c.messages.push_back(std::move(turn));
    return std::nullopt;
}

/// Tool-call arguments as a tool_use block's input, which must be an object. Some
/// clients send "" for a call without arguments: that is `{}`.
std::variant<json::object, translation_error>
tool_input(std::string_view arguments, const std::string& where)
{
    if (arguments.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return json::object{};
    boost::system::error_code ec;
    auto parsed = json::parse(arguments, ec);
    if (ec || !parsed.is_object()) {
        return translation_error{
            where,
            where + " must be a JSON object serialised as a string: the Anthropic Messages "
                    "API's tool_use input is an object"};
    }
    return std::move(parsed.as_object());
}

failure append_tool_use_blocks(const json::value& v, const std::string& where, json::array& out)
{
    const auto* calls = v.if_array();
    if (!calls)
        return invalid(where, "an array of tool calls");
    for (std::size_t i = 0; i < calls->size(); ++i) {
        const auto at = indexed(where, i);
        const auto* call = (*calls)[i].if_object();
        if (!call)
            return invalid(at, "an object");
        // The type first: another type's members are named after it.
        if (const auto* type = given(*call, "type"); type && !equals(*type, "function"))
            return untranslatable(member(at, "type"), "only function calls have one");
        if (auto err = only_known(*call, at, {"id", "type", "function"}))
            return err;
        const auto* id = given_string(*call, "id");
        if (!id)
            return invalid(member(at, "id"), "a string");
        const auto fn_where = member(at, "function");
        const auto* fn_value = given(*call, "function");
        const auto* fn = fn_value ? fn_value->if_object() : nullptr;
        if (!fn)
            return invalid(fn_where, "an object with a name and arguments");
        if (auto err = only_known(*fn, fn_where, {"name", "arguments"}))
            return err;
        const auto* name = given_string(*fn, "name");
        if (!name)
            return invalid(member(fn_where, "name"), "a string");
        const auto* arguments = given_string(*fn, "arguments");
        if (!arguments)
            return invalid(member(fn_where, "arguments"), "a string");
        auto input = tool_input(*arguments, member(fn_where, "arguments"));
        if (auto* err = std::get_if<translation_error>(&input))
            return std::move(*err);
        out.push_back(json::object{
            {"type", "tool_use"},
            {"id", *id},
            {"name", *name},
            {"input", std::move(std::get<json::object>(input))}});
    }
    return std::nullopt;
}

failure assistant_turn(const json::object& o, const std::string& where, conversation& c)
{
    // A refusal the model made has no Anthropic block to go back in.
    if (auto err = only_known(o, where, {"role", "content", "tool_calls"}))
        return err;
    const auto content_where = member(where, "content");
    const auto* content = given(o, "content");
    const auto* calls = given(o, "tool_calls");
    if (!content && !calls)
        return invalid(content_where, "given when there are no tool_calls");
    if (content && content->is_string() && !calls) {
        c.messages.push_back(json::object{{"role", "assistant"}, {"content", content->get_string()}}
        );
        return std::nullopt;
    }
    json::array blocks;
    if (content) {
        std::vector<std::string_view> texts;
        if (auto err = text_parts(*content, content_where, texts))
            return err;
        for (const auto text : texts)
            append_text_block(blocks, text);
    }
    if (calls) {
        if (auto err = append_tool_use_blocks(*calls, member(where, "tool_calls"), blocks))
            return err;
    }
    c.messages.push_back(json::object{{"role", "assistant"}, {"content", std::move(blocks)}});
    return std::nullopt;
}

failure tool_turn(const json::object& o, const std::string& where, conversation& c)
{
    if (auto err = only_known(o, where, {"role", "content", "tool_call_id"}))
        return err;
    const auto* id = given_string(o, "tool_call_id");
    if (!id)
        return invalid(member(where, "tool_call_id"), "a string");
    const auto content_where = member(where, "content");
    const auto* content = given(o, "content");
    if (!content)
        return invalid(content_where, "a string or an array of text parts");
    json::object result{{"type", "tool_result"}, {"tool_use_id", *id}};
    if (const auto* s = content->if_string()) {
        result["content"] = *s;
    } else {
        std::vector<std::string_view> texts;
        if (auto err = text_parts(*content, content_where, texts))
            return err;
        json::array blocks;
        for (const auto text : texts)
            append_text_block(blocks, text);
        result["content"] = std::move(blocks);
    }
    if (!c.after_tool_results)
        c.messages.push_back(json::object{{"role", "user"}, {"content", json::array{}}});
    c.messages.back().as_object()["content"].as_array().push_back(std::move(result));
    return std::nullopt;
}

failure translate_messages(const json::object& body, json::object& out)
{
    const auto* v = given(body, "messages");
    const auto* turns = v ? v->if_array() : nullptr;
    if (!turns)
        return invalid("messages", "an array of messages");
    conversation c;
    for (std::size_t i = 0; i < turns->size(); ++i) {
        const auto where = indexed("messages", i);
        const auto* o = (*turns)[i].if_object();
        if (!o)
            return invalid(where, "an object");
        const auto* role = given_string(*o, "role");
        if (!role)
            return invalid(member(where, "role"), "a string");
        failure err;
        bool hoisted = false;
        if (*role == "system" || *role == "developer") {
            err = system_turn(*o, where, c);
            hoisted = true;
        } else if (*role == "user") {
            err = user_turn(*o, where, c);
        } else if (*role == "assistant") {
            err = assistant_turn(*o, where, c);
        } else if (*role == "tool") {
            err = tool_turn(*o, where, c);
        } else {
            err = untranslatable(member(where, "role"), "role \"" + std::string(*role) + "\"");
        }
        if (err)
            return err;
        // A system turn goes to the top, so it does not come between tool results and
        // what follows them.
        if (!hoisted)
            c.after_tool_results = *role == "tool";
    }
    if (c.has_system)
        out["system"] = std::move(c.system);
    out["messages"] = std::move(c.messages);
    return std::nullopt;
}

failure translate_tools(const json::value& v, json::object& out)
{
    const auto* tools = v.if_array();
    if (!tools)
        return invalid("tools", "an array of tools");
    json::array translated;
    for (std::size_t i = 0; i < tools->size(); ++i) {
        const auto at = indexed("tools", i);
        const auto* tool = (*tools)[i].if_object();
        if (!tool)
            return invalid(at, "an object");
        const auto* type = given_string(*tool, "type");
        if (!type || *type != "function")
            return untranslatable(member(at, "type"), "only function tools have one");
        if (auto err = only_known(*tool, at, {"type", "function"}))
            return err;
        const auto fn_where = member(at, "function");
        const auto* fn_value = given(*tool, "function");
        const auto* fn = fn_value ? fn_value->if_object() : nullptr;
        if (!fn)
            return invalid(fn_where, "an object");
        // `strict` asks for arguments that match the schema, which Anthropic's tool use
        // aims at anyway.
        if (auto err = only_known(*fn, fn_where, {"name", "description", "parameters", "strict"}))
            return err;
        const auto* name = given_string(*fn, "name");
        if (!name)
            return invalid(member(fn_where, "name"), "a string");
        json::object t{{"name", *name}};
        if (const auto* description = given(*fn, "description")) {
            if (!description->is_string())
                return invalid(member(fn_where, "description"), "a string");
            t["description"] = *description;
        }
        // OpenAI lets a function without parameters take none; Anthropic wants a schema.
        if (const auto* parameters = given(*fn, "parameters")) {
            if (!parameters->is_object())
                return invalid(member(fn_where, "parameters"), "a JSON Schema object");
            t["input_schema"] = *parameters;
        } else {
            t["input_schema"] = json::object{{"type", "object"}, {"properties", json::object{}}};
        }
        translated.push_back(std::move(t));
    }
    out["tools"] = std::move(translated);
    return std::nullopt;
}

std::variant<json::object, translation_error> tool_choice_of(const json::value& v)
{
    if (const auto* s = v.if_string()) {
        if (*s == "auto")
            return json::object{{"type", "auto"}};
        if (*s == "none")
            return json::object{{"type", "none"}};
        if (*s == "required")
            return json::object{{"type", "any"}};
        return untranslatable("tool_choice", "\"" + std::string(*s) + "\"");
    }
    const auto* o = v.if_object();
    if (!o)
        return invalid("tool_choice", "a string or an object");
    const auto* type = given_string(*o, "type");
    if (!type || *type != "function")
        return untranslatable("tool_choice.type", "only a function choice has one");
    if (auto err = only_known(*o, "tool_choice", {"type", "function"}))
        return std::move(*err);
    const auto* fn = given(*o, "function");
    const auto* fo = fn ? fn->if_object() : nullptr;
    if (!fo)
        return invalid("tool_choice.function", "an object with a name");
    if (auto err = only_known(*fo, "tool_choice.function", {"name"}))
        return std::move(*err);
    const auto* name = given_string(*fo, "name");
    if (!name)
        return invalid("tool_choice.function.name", "a string");
    return json::object{{"type", "tool"}, {"name", *name}};
}

failure translate_tool_choice(const json::object& body, json::object& out)
{
    if (const auto* tools = given(body, "tools"))
        if (auto err = translate_tools(*tools, out))
            return err;
    std::optional<json::object> choice;
    if (const auto* v = given(body, "tool_choice")) {
        auto translated = tool_choice_of(*v);
        if (auto* err = std::get_if<translation_error>(&translated))
            return std::move(*err);
        choice = std::move(std::get<json::object>(translated));
    }
    if (const auto* parallel = given(body, "parallel_tool_calls")) {
        if (!parallel->is_bool())
            return invalid("parallel_tool_calls", "a boolean");
        // Without tools, or with none to be called, there is nothing to run in parallel
        // (and Anthropic takes a tool_choice only next to tools).
        const auto* tools = out.if_contains("tools");
        const bool may_call =
            tools && !tools->as_array().empty() && !(choice && equals(choice->at("type"), "none"));
        if (!parallel->get_bool() && may_call) {
            if (!choice)
                choice = json::object{{"type", "auto"}};
            (*choice)["disable_parallel_tool_use"] = true;
        }
    }
    if (choice)
        out["tool_choice"] = std::move(*choice);
    return std::nullopt;
}

failure translate_stop(const json::value& v, json::object& out)
{
    json::array sequences;
    if (const auto* s = v.if_string()) {
        sequences.push_back(*s);
    } else if (const auto* a = v.if_array()) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (!(*a)[i].is_string())
                return invalid(indexed("stop", i), "a string");
            sequences.push_back((*a)[i]);
        }
    } else {
        return invalid("stop", "a string or an array of strings");
    }
    if (!sequences.empty())
        out["stop_sequences"] = std::move(sequences);
    return std::nullopt;
}

/// Options that are copied or renamed.
failure translate_options(const json::object& body, json::object& out)
{
    if (const auto* stream = given(body, "stream"))
        out["stream"] = stream->is_bool() && stream->get_bool();
    else
        out["stream"] = false;
    for (const std::string_view name : {"temperature", "top_p"}) {
        if (const auto* v = given(body, name)) {
            if (!as_number(*v))
                return invalid(std::string(name), "a number");
            out[name] = *v;
        }
    }
    if (const auto* stop = given(body, "stop"))
        if (auto err = translate_stop(*stop, out))
            return err;
    if (const auto* user = given(body, "user")) {
        if (!user->is_string())
            return invalid("user", "a string");
        out["metadata"] = json::object{{"user_id", *user}};
    }
    return std::nullopt;
}

/// A member the translation does not carry over is fine only at the value Anthropic
/// behaves as (one choice, no log probabilities, no penalties).
bool at_default(std::string_view key, const json::value& v)
{
    if (key == "n")
        return as_integer(v) == 1;
    if (key == "logprobs")
        return v.is_bool() && !v.get_bool();
    if (key == "frequency_penalty" || key == "presence_penalty")
        return as_number(v) == 0.0;
    // The relay reads include_usage itself; the usage chunk is built from Anthropic's.
    return key == "stream_options";
}

failure check_members(const json::object& body)
{
    static constexpr std::string_view translated[] = {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "temperature",
        "top_p",
        "stop",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls"};
    for (const auto& m : body) {
        const std::string_view key = m.key();
        if (m.value().is_null() ||
            std::find(std::begin(translated), std::end(translated), key) != std::end(translated))
            continue;
        if (!at_default(key, m.value()))
            return untranslatable(std::string(key));
    }
    return std::nullopt;
}

failure translate_max_tokens(const json::object& body, std::int64_t fallback, json::object& out)
{
    // `max_completion_tokens` is the newer name of `max_tokens`; it wins when both are set.
    for (const char* name : {"max_completion_tokens", "max_tokens"}) {
        if (const auto* v = given(body, name)) {
            const auto n = as_integer(*v);
            if (!n)
                return invalid(name, "an integer");
            out["max_tokens"] = *n;
            return std::nullopt;
        }
    }
    out["max_tokens"] = fallback;
    return std::nullopt;
}

// ---- answers ----

/// A token count member; absent and null leave `out` alone.
bool read_count(const json::object& o, std::string_view key, std::int64_t& out)
{
    const auto* v = given(o, key);
    if (!v)
        return true;
    const auto n = as_integer(*v);
    if (!n || *n < 0)
        return false;
    out = *n;
    return true;
}

/// Anthropic's usage counts: input_tokens leaves out what the prompt cache wrote and read,
/// which OpenAI's prompt_tokens includes.
struct anthropic_usage
{
    std::int64_t input = 0;
    std::int64_t cache_creation = 0;
    std::int64_t cache_read = 0;
    std::int64_t output = 0;

    token_usage openai() const { return token_usage{input + cache_creation + cache_read, output}; }
};

/// Reads the counts `usage` has; returns the name of a wrongly typed one.
std::optional<std::string_view> read_usage_counts(const json::object& usage, anthropic_usage& out)
{
    if (!read_count(usage, "input_tokens", out.input))
        return "input_tokens";
    if (!read_count(usage, "cache_creation_input_tokens", out.cache_creation))
        return "cache_creation_input_tokens";
    if (!read_count(usage, "cache_read_input_tokens", out.cache_read))
        return "cache_read_input_tokens";
    if (!read_count(usage, "output_tokens", out.output))
        return "output_tokens";
    return std::nullopt;
}

void append_usage_object(std::string& out, const token_usage& usage)
{
    out += R"({"prompt_tokens":)";
    out += std::to_string(usage.prompt_tokens);
    out += R"(,"completion_tokens":)";
    out += std::to_string(usage.completion_tokens);
    out += R"(,"total_tokens":)";
    out += std::to_string(usage.prompt_tokens + usage.completion_tokens);
    out += '}';
}

/// "<type>: <message>" of an Anthropic error object, or its JSON when it has neither.
std::string error_text(const json::value* error, const json::object& whole, std::string& type)
{
    const auto* eo = error ? error->if_object() : nullptr;
    const auto* t = eo ? given_string(*eo, "type") : nullptr;
    const auto* m = eo ? given_string(*eo, "message") : nullptr;
    type = t ? std::string(*t) : std::string();
    if (!m)
        return error ? json::serialize(*error) : json::serialize(whole);
    if (!t)
        return std::string(*m);
    return type + ": " + std::string(*m);
}

} // namespace

std::variant<std::string, translation_error> anthropic_request_body(
    const boost::json::object& openai_body, std::string_view model, std::int64_t default_max_tokens
)
{
    if (auto err = check_members(openai_body))
        return std::move(*err);
    json::object out;
    out["model"] = model;
    if (auto err = translate_max_tokens(openai_body, default_max_tokens, out))
        return std::move(*err);
    if (auto err = translate_messages(openai_body, out))
        return std::move(*err);
    if (auto err = translate_options(openai_body, out))
        return std::move(*err);
    if (auto err = translate_tool_choice(openai_body, out))
        return std::move(*err);
    return json::serialize(out);
}

std::string_view openai_finish_reason(std::string_view stop_reason)
{
    // pause_turn: Anthropic paused a long turn of its own tools; the answer so far is whole.
    if (stop_reason == "end_turn" || stop_reason == "stop_sequence" || stop_reason == "pause_turn")
        return "stop";
    if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded")
        return "length";
    if (stop_reason == "tool_use")
        return "tool_calls";
    if (stop_reason == "refusal")
        return "content_filter";
    return stop_reason;
}

// ---- the streamed answer ----

anthropic_stream_translator::anthropic_stream_translator(completion_meta meta)
{
    envelope_ = R"({"id":)";
    append_json_string(envelope_, meta.id);
    envelope_ += R"(,"object":"chat.completion.chunk","created":)";
    envelope_ += std::to_string(meta.created);
    envelope_ += R"(,"model":)";
    append_json_string(envelope_, meta.model);
}

std::optional<token_usage> anthropic_stream_translator::usage() const
{
    if (!usage_seen_)
        return std::nullopt;
    return token_usage{input_tokens_ + cache_creation_tokens_ + cache_read_tokens_, output_tokens_};
}

bool anthropic_stream_translator::feed(
    std::string_view event_type, std::string_view data, std::vector<std::string>& chunks
)
{
    why_.clear();
    boost::system::error_code ec;
    const auto root = json::parse(data, ec);
    if (ec)
        return fail("the event's data is not JSON: " + ec.message());
    const auto* o = root.if_object();
    if (!o)
        return fail("the event's data is not a JSON object");
    if (event_type.empty() || event_type == "message") {
        const auto* type = given(*o, "type");
        if (type && !type->is_string())
            return fail("the event's type is not a string");
        event_type = type ? std::string_view(type->get_string()) : std::string_view();
    }
    return on_event(event_type, *o, chunks);
}

bool anthropic_stream_translator::on_event(
    std::string_view type, const boost::json::object& o, std::vector<std::string>& chunks
)
{
    if (type == "message_start")
        return on_message_start(o, chunks);
    if (type == "content_block_start")
        return on_block_start(o, chunks);
    if (type == "content_block_delta")
        return on_block_delta(o, chunks);
    if (type == "content_block_stop")
        return on_block_stop(o, chunks);
    if (type == "message_delta")
        return on_message_delta(o, chunks);
    if (type == "message_stop") {
        on_message_stop(chunks);
        return true;
    }
    if (type == "error")
        on_error(o);
    // ping, and event types Anthropic may add: clients are told to ignore unknown ones.
    return true;
}

bool anthropic_stream_translator::on_message_start(
    const boost::json::object& o, std::vector<std::string>& chunks
)
{
    const auto* m = o.if_contains("message");
    const auto* message = m ? m->if_object() : nullptr;
    if (!message)
        return fail("message_start.message is not an object");
    if (!read_usage(message->if_contains("usage"), "message_start.message.usage"))
        return false;
    // Tool call indexes count the tool_use blocks of one message.
    tools_.clear();
    chunks.push_back(chunk(R"({"role":"assistant","content":""})", {}));
    return true;
}

bool anthropic_stream_translator::on_block_start(
    const boost::json::object& o, std::vector<std::string>& chunks
)
{
    const auto* b = o.if_contains("content_block");
    const auto* block = b ? b->if_object() : nullptr;
    const auto* type = block ? given_string(*block, "type") : nullptr;
    if (!type)
        return fail("content_block_start.content_block is not an object with a string type");
    // A text or thinking block starts empty in practice, but what it holds is shown.
    std::string delta;
    if (*type == "text" || *type == "thinking") {
        const auto* text = given(*block, *type);
        if (text && !text->is_string())
            return fail(
                "content_block_start.content_block." + std::string(*type) + " is not a string"
            );
        if (!text || text->get_string().empty())
            return true;
        delta = *type == "text" ? R"({"content":)" : R"({"reasoning_content":)";
        append_json_string(delta, text->get_string());
        delta += '}';
        chunks.push_back(chunk(delta, {}));
        return true;
    }
    // redacted_thinking is encrypted; server tool blocks come only when asked for.
    if (*type != "tool_use")
        return true;
    const auto* index = given(o, "index");
    const auto block_index = index ? as_integer(*index) : std::nullopt;
    if (!block_index)
        return fail("content_block_start.index is not an integer");
    const auto* id = given_string(*block, "id");
    const auto* name = given_string(*block, "name");
    if (!id || !name)
        return fail("a tool_use block without a string id and name");
    const auto* input = given(*block, "input");
    tool_block tool{*block_index, tools_.size(), input ? json::serialize(*input) : "{}", false};
    delta = R"({"tool_calls":[{"index":)";
    delta += std::to_string(tool.call);
    delta += R"(,"id":)";
    append_json_string(delta, *id);
    delta += R"(,"type":"function","function":{"name":)";
    append_json_string(delta, *name);
    delta += R"(,"arguments":""}}]})";
    tools_.push_back(std::move(tool));
    chunks.push_back(chunk(delta, {}));
    return true;
}

bool anthropic_stream_translator::on_block_delta(
    const boost::json::object& o, std::vector<std::string>& chunks
)
{
    const auto* d = o.if_contains("delta");
    const auto* delta = d ? d->if_object() : nullptr;
    const auto* type = delta ? given_string(*delta, "type") : nullptr;
    if (!type)
        return fail("content_block_delta.delta is not an object with a string type");
    std::string_view field;
    std::string_view out_field;
    if (*type == "text_delta") {
        field = "text";
        out_field = "content";
    } else if (*type == "thinking_delta") {
        field = "thinking";
        out_field = "reasoning_content";
    } else if (*type == "input_json_delta") {
        field = "partial_json";
    } else {
        // signature_delta only proves the thinking genuine; citations have no equivalent.
        return true;
    }
    const auto* text = given(*delta, field);
    if (!text || !text->is_string())
        return fail(std::string(*type) + "." + std::string(field) + " is not a string");
    const auto& s = text->get_string();
    if (s.empty())
        return true;
    std::string out;
    if (!out_field.empty()) {
        out = "{\"" + std::string(out_field) + "\":";
        append_json_string(out, s);
        out += '}';
        chunks.push_back(chunk(out, {}));
        return true;
    }
    const auto* index = given(o, "index");
    const auto block_index = index ? as_integer(*index) : std::nullopt;
    if (!block_index)
        return fail("content_block_delta.index is not an integer");
    auto* tool = tool_at(*block_index);
    if (!tool)
        return true; // the input of a server tool the relay never asked for
    tool->sent_arguments = true;
    out = R"({"tool_calls":[{"index":)";
    out += std::to_string(tool->call);
    out += R"(,"function":{"arguments":)";
    append_json_string(out, s);
    out += "}}]}";
    chunks.push_back(chunk(out, {}));
    return true;
}

bool anthropic_stream_translator::on_block_stop(
    const boost::json::object& o, std::vector<std::string>& chunks
)
{
    const auto* index = given(o, "index");
    if (!index)
        return true;
    const auto block_index = as_integer(*index);
    if (!block_index)
        return fail("content_block_stop.index is not an integer");
    // A call without arguments may stream no input at all; OpenAI clients parse the
    // arguments they gathered, and "" is not JSON.
    auto* tool = tool_at(*block_index);
    if (!tool || tool->sent_arguments)
        return true;
    tool->sent_arguments = true;
    std::string out = R"({"tool_calls":[{"index":)";
    out += std::to_string(tool->call);
    out += R"(,"function":{"arguments":)";
    append_json_string(out, tool->start_input);
    out += "}}]}";
    chunks.push_back(chunk(out, {}));
    return true;
}

bool anthropic_stream_translator::on_message_delta(
    const boost::json::object& o, std::vector<std::string>& chunks
)
{
    std::string_view stop_reason;
    if (const auto* d = given(o, "delta")) {
        const auto* delta = d->if_object();
        if (!delta)
            return fail("message_delta.delta is not an object");
        if (const auto* reason = given(*delta, "stop_reason")) {
            if (!reason->is_string())
                return fail("message_delta.delta.stop_reason is not a string");
            stop_reason = reason->get_string();
        }
    }
    // Its usage is cumulative: output_tokens, and the input counts when it has them.
    if (!read_usage(o.if_contains("usage"), "message_delta.usage"))
        return false;
    if (stop_reason.empty())
        return true;
    finish_reason_ = openai_finish_reason(stop_reason);
    chunks.push_back(chunk("{}", finish_reason_));
    return true;
}

void anthropic_stream_translator::on_message_stop(std::vector<std::string>& chunks)
{
    done_ = true;
    const auto counts = usage();
    if (!counts)
        return;
    std::string out = envelope_;
    out += R"(,"choices":[],"usage":)";
    append_usage_object(out, *counts);
    out += '}';
    chunks.push_back(std::move(out));
}

void anthropic_stream_translator::on_error(const boost::json::object& o)
{
    error_message_ = error_text(o.if_contains("error"), o, error_type_);
    if (error_message_.empty())
        error_message_ = "the upstream reported an error";
}

bool anthropic_stream_translator::read_usage(
    const boost::json::value* usage, std::string_view where
)
{
    if (!usage || usage->is_null())
        return true;
    const auto* u = usage->if_object();
    if (!u)
        return fail(std::string(where) + " is not an object");
    anthropic_usage counts{
        input_tokens_, cache_creation_tokens_, cache_read_tokens_, output_tokens_};
    if (const auto wrong = read_usage_counts(*u, counts))
        return fail(std::string(where) + "." + std::string(*wrong) + " is not a token count");
    input_tokens_ = counts.input;
    cache_creation_tokens_ = counts.cache_creation;
    cache_read_tokens_ = counts.cache_read;
    output_tokens_ = counts.output;
    usage_seen_ = true;
    return true;
}

anthropic_stream_translator::tool_block* anthropic_stream_translator::tool_at(std::int64_t block)
{
    for (auto& tool : tools_)
        if (tool.block == block)
            return &tool;
    return nullptr;
}

std::string
anthropic_stream_translator::chunk(std::string_view delta, std::string_view finish_reason) const
{
    std::string out;
    out.reserve(envelope_.size() + delta.size() + 64);
    out += envelope_;
    out += R"(,"choices":[{"index":0,"delta":)";
    out += delta;
    out += R"(,"finish_reason":)";
    if (finish_reason.empty())
        out += "null";
    else
        append_json_string(out, finish_reason);
    out += "}]}";
    return out;
}

bool anthropic_stream_translator::fail(std::string why)
{
    why_ = std::move(why);
    return false;
}

// ---- the whole answer ----

namespace {

struct whole_answer
{
    std::string content;
    bool has_content = false;
    std::string reasoning;
    json::array tool_calls;
};

failure read_blocks(const json::value* content, whole_answer& out)
{
    const auto* blocks = content ? content->if_array() : nullptr;
    if (!blocks)
        return translation_error{{}, "the upstream's message has no content array"};
    for (const auto& b : *blocks) {
        const auto* block = b.if_object();
        const auto* type = block ? given_string(*block, "type") : nullptr;
        if (!type)
            return translation_error{
                {}, "the upstream's message has a content block without a type"};
        if (*type == "text" || *type == "thinking") {
            const auto* text = given_string(*block, *type);
            if (!text)
                return translation_error{
                    {},
                    "the upstream's " + std::string(*type) + " block has no string " +
                        std::string(*type)};
            if (*type == "text") {
                out.content.append(text->data(), text->size());
                out.has_content = true;
            } else {
                out.reasoning.append(text->data(), text->size());
            }
        } else if (*type == "tool_use") {
            const auto* id = given_string(*block, "id");
            const auto* name = given_string(*block, "name");
            if (!id || !name)
                return translation_error{{}, "the upstream's tool_use block has no id or name"};
            const auto* input = given(*block, "input");
            out.tool_calls.push_back(json::object{
                {"id", *id},
                {"type", "function"},
                {"function",
                 json::object{
                     {"name", *name},
                     {"arguments", input ? json::serialize(*input) : std::string("{}")}}}});
        }
        // redacted_thinking is encrypted; server tool blocks come only when asked for.
    }
    return std::nullopt;
}

} // namespace

std::variant<std::string, translation_error> openai_completion_from_anthropic(
    std::string_view anthropic_message_json, const completion_meta& meta
)
{
    boost::system::error_code ec;
    const auto root = json::parse(anthropic_message_json, ec);
    const auto* o = ec ? nullptr : root.if_object();
    if (!o)
        return translation_error{{}, "the upstream's answer is not a JSON object"};
    const auto* type = given_string(*o, "type");
    if (type && *type == "error") {
        std::string error_type;
        return translation_error{
            {},
            "the upstream reported an error: " +
                error_text(o->if_contains("error"), *o, error_type)};
    }
    if (!type || *type != "message")
        return translation_error{{}, "the upstream's answer is not a Messages API message"};

    whole_answer answer;
    if (auto err = read_blocks(o->if_contains("content"), answer))
        return std::move(*err);
    std::string_view finish_reason = "stop";
    if (const auto* reason = given(*o, "stop_reason")) {
        if (!reason->is_string())
            return translation_error{{}, "the upstream's stop_reason is not a string"};
        finish_reason = openai_finish_reason(reason->get_string());
    }

    json::object message{{"role", "assistant"}};
    message["content"] = answer.has_content ? json::value(answer.content) : json::value(nullptr);
    if (!answer.reasoning.empty())
        message["reasoning_content"] = answer.reasoning;
    if (!answer.tool_calls.empty())
        message["tool_calls"] = std::move(answer.tool_calls);
    json::object body{
        {"id", meta.id},
        {"object", "chat.completion"},
        {"created", meta.created},
        {"model", meta.model},
        {"choices",
         json::array{json::object{
             {"index", 0},
             {"message", std::move(message)},
             {"logprobs", nullptr},
             {"finish_reason", finish_reason}}}}};
    if (const auto* u = given(*o, "usage")) {
        const auto* usage = u->if_object();
        anthropic_usage counts;
        if (!usage || read_usage_counts(*usage, counts))
            return translation_error{{}, "the upstream's usage is not an object of token counts"};
        const auto openai = counts.openai();
        body["usage"] = json::object{
            {"prompt_tokens", openai.prompt_tokens},
            {"completion_tokens", openai.completion_tokens},
            {"total_tokens", openai.prompt_tokens + openai.completion_tokens}};
    }
    return json::serialize(body);
}

} // namespace tokenrelay::protocol
