#include <tokenrelay/protocol/anthropic_translation.hpp>
#include <tokenrelay/protocol/completion_request.hpp>
#include <tokenrelay/protocol/forwarded_body.hpp>
#include <tokenrelay/protocol/json_values.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <set>

namespace tokenrelay::protocol {
namespace {

namespace json = boost::json;

completion_error fail(std::string param, std::string message)
{
    return completion_error{errc::bad_request, std::move(message), std::move(param)};
}

completion_error too_large(std::size_t max_body_bytes)
{
    auto err = fail(
        {}, "the body, images aside, has more than " + std::to_string(max_body_bytes) + " bytes"
    );
    err.status = 413;
    return err;
}

completion_error untranslatable(std::string param)
{
    auto message = param + " has no equivalent for the built-in demo model";
    return fail(std::move(param), std::move(message));
}

// JSON null stands for "not given" in OpenAI's API (the SDKs send it for unset options).
const json::value* given(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

/// What the messages hold, for the policy and the accounting.
struct message_tally
{
    std::size_t text_bytes = 0;
    std::size_t image_bytes = 0;
};

/// One content part: text is the turn's text, an image URL counts against the image
/// limit, anything else is the upstream's to read (translating, it is refused).
std::optional<completion_error> read_part(
    const json::value& v,
    const std::string& where,
    upstream_body how,
    chat_turn& turn,
    message_tally& tally
)
{
    const auto* part = v.if_object();
    const json::value* type = part ? part->if_contains("type") : nullptr;
    if (!type || !type->is_string())
        return fail(where + ".type", where + " must be an object with a string type");
    const auto& name = type->get_string();
    if (name == "text") {
        const auto* text = part->if_contains("text");
        if (!text || !text->is_string())
            return fail(where + ".text", where + ".text must be a string");
        turn.content.append(text->get_string().data(), text->get_string().size());
        tally.text_bytes += text->get_string().size();
        return std::nullopt;
    }
    if (how == upstream_body::translate)
        return untranslatable(where);
    if (name == "image_url") {
        const auto* image = part->if_contains("image_url");
        const auto* io = image ? image->if_object() : nullptr;
        const auto* url = io ? io->if_contains("url") : nullptr;
        if (!url || !url->is_string())
            return fail(where + ".image_url.url", where + ".image_url.url must be a string");
        tally.image_bytes += url->get_string().size();
    }
    return std::nullopt;
}

std::optional<completion_error> read_turn(
    const json::value& v,
    const std::string& where,
    upstream_body how,
    chat_turn& turn,
    message_tally& tally
)
{
    const auto* o = v.if_object();
    if (!o)
        return fail(where, where + " must be an object");
    const auto* role = o->if_contains("role");
    if (!role || !role->is_string())
        return fail(where + ".role", where + ".role must be a string");
    turn.role = std::string(role->get_string());
    const auto* content = given(*o, "content");
    if (how == upstream_body::translate) {
        // The Anthropic API's system prompt takes both.
        if (turn.role == "developer")
            turn.role = "system";
        if (!known_role(turn.role))
            return untranslatable(where + ".role");
        for (const auto& member : *o)
            if (member.key() != "role" && member.key() != "content" && !member.value().is_null())
                return untranslatable(where + "." + std::string(member.key()));
        if (!content)
            return fail(where + ".content", where + ".content is required");
    }
    if (!content)
        return std::nullopt; // an assistant turn with tool_calls, say
    if (const auto* s = content->if_string()) {
        turn.content.assign(s->data(), s->size());
        tally.text_bytes += s->size();
        return std::nullopt;
    }
    const auto* parts = content->if_array();
    if (!parts)
        return fail(where + ".content", where + ".content must be a string or an array of parts");
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const auto at = where + ".content[" + std::to_string(i) + "]";
        if (auto err = read_part((*parts)[i], at, how, turn, tally))
            return err;
    }
    return std::nullopt;
}

std::optional<completion_error> read_messages(
    const json::object& o,
    const frame_limits& limits,
    upstream_body how,
    std::vector<chat_turn>& out,
    message_tally& tally
)
{
    const auto* v = given(o, "messages");
    const auto* arr = v ? v->if_array() : nullptr;
    if (!arr || arr->empty())
        return fail("messages", "messages must be a non-empty array of {role, content}");
    // One WebSocket chat carries a context plus its new message (section 2).
    const auto max_messages = limits.max_context_messages + 1;
    const auto max_bytes = limits.max_context_bytes + limits.max_content_bytes;
    if (arr->size() > max_messages) {
        return fail(
            "messages", "messages must have at most " + std::to_string(max_messages) + " entries"
        );
    }
    out.resize(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
        if (auto err =
                read_turn((*arr)[i], "messages[" + std::to_string(i) + "]", how, out[i], tally))
            return err;
        if (tally.text_bytes > max_bytes) {
            return fail(
                "messages",
                "messages must have at most " + std::to_string(max_bytes) + " bytes of text"
            );
        }
    }
    return std::nullopt;
}

std::optional<completion_error> read_model(
    const json::object& o,
    const frame_limits& limits,
    std::string_view default_model,
    std::string& out
)
{
    out = std::string(default_model);
    if (const auto* model = given(o, "model")) {
        const auto* s = model->if_string();
        if (!s || std::find(limits.allowed_models.begin(), limits.allowed_models.end(), *s) ==
                      limits.allowed_models.end()) {
            return fail("model", "model must be one of the allowed models");
        }
        out = std::string(*s);
    }
    return std::nullopt;
}

std::optional<completion_error>
read_options(const json::object& o, const frame_limits& limits, completion_request& out)
{
    if (const auto* temperature = given(o, "temperature")) {
        const auto t = as_number(*temperature);
        if (!t || !(*t >= 0.0 && *t <= 2.0))
            return fail("temperature", "temperature must be a number from 0 to 2");
        out.request.temperature = *t;
    }
    // `max_completion_tokens` is the newer name of `max_tokens`; it wins when both are set.
    for (const char* name : {"max_tokens", "max_completion_tokens"}) {
        const auto* max_tokens = given(o, name);
        if (!max_tokens)
            continue;
        const auto n = as_integer(*max_tokens);
        if (!n || *n <= 0 || *n > limits.max_tokens_ceiling) {
            return fail(
                name,
                std::string(name) + " must be an integer from 1 to " +
                    std::to_string(limits.max_tokens_ceiling)
            );
        }
        out.request.max_tokens = *n;
    }
    if (const auto* stream = given(o, "stream")) {
        if (!stream->is_bool())
            return fail("stream", "stream must be a boolean");
        out.stream = stream->get_bool();
    }
    if (const auto* options = given(o, "stream_options")) {
        const auto* so = options->if_object();
        if (!so)
            return fail("stream_options", "stream_options must be an object");
        if (const auto* usage = given(*so, "include_usage")) {
            if (!usage->is_bool())
                return fail(
                    "stream_options.include_usage", "stream_options.include_usage must be a boolean"
                );
            out.include_usage = usage->get_bool();
        }
    }
    return std::nullopt;
}

/// Translating, the members with an equivalent, and those that may stay at their
/// default (`n: 1`, `logprobs: false`, `parallel_tool_calls: true`); the rest is refused.
std::optional<completion_error> check_translatable(const json::object& o)
{
    static const std::set<std::string_view> translated = {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature"};
    for (const auto& member : o) {
        const auto& v = member.value();
        const std::string_view key = member.key();
        if (v.is_null() || translated.contains(key))
            continue;
        const bool at_default = (key == "n" && as_integer(v) == 1) ||
                                (key == "logprobs" && v.is_bool() && !v.get_bool()) ||
                                (key == "parallel_tool_calls" && v.is_bool() && v.get_bool());
        if (!at_default)
            return untranslatable(std::string(key));
    }
    return std::nullopt;
}

const member_span* find_member(const std::vector<member_span>& members, std::string_view key)
{
    for (const auto& m : members)
        if (m.key == key)
            return &m;
    return nullptr;
}

/// The client's body with the two edits the relay makes: the model it resolved when the
/// client named none, and `stream_options.include_usage` when streaming, since the relay
/// accounts every reply (the usage chunk goes to the client only when it asked).
std::string forwarded_body(
    std::string_view body,
    const json::object& o,
    const std::vector<member_span>& members,
    const completion_request& req
)
{
    body_edits edits;
    if (!given(o, "model")) {
        auto model = json::serialize(json::value(json::string(req.request.model)));
        if (const auto* m = find_member(members, "model"))
            edits.replace(*m, std::move(model));
        else
            edits.prepend("model", std::move(model));
    }
    if (req.stream && !req.include_usage) {
        json::object options;
        if (const auto* so = given(o, "stream_options"))
            options = so->get_object();
        options["include_usage"] = true;
        auto text = json::serialize(options);
        if (const auto* m = find_member(members, "stream_options"))
            edits.replace(*m, std::move(text));
        else
            edits.prepend("stream_options", std::move(text));
    }
    return edits.apply(body);
}

} // namespace

completion_parse_result parse_completion_request(
    std::string_view body,
    const frame_limits& limits,
    std::string_view default_model,
    upstream_body how
)
{
    boost::system::error_code ec;
    const json::value jv = json::parse(body, ec);
    // Past the body limit only image URLs may take the room, and that needs JSON.
    if (ec && body.size() > limits.max_body_bytes)
        return too_large(limits.max_body_bytes);
    if (ec)
        return completion_error{errc::bad_json, "the request body is not valid JSON", {}};
    const auto* o = jv.if_object();
    if (!o)
        return completion_error{errc::bad_json, "the request body must be a JSON object", {}};
    const auto members = top_level_members(body);
    std::set<std::string_view> seen;
    for (const auto& m : *members) {
        if (!seen.insert(m.key).second)
            return fail(m.key, "the body gives " + m.key + " twice");
    }

    completion_request out;
    message_tally tally;
    if (auto err = read_messages(*o, limits, how, out.request.messages, tally))
        return std::move(*err);
    if (tally.image_bytes > limits.max_image_bytes) {
        auto err = fail(
            "messages",
            "the images' URLs have more than " + std::to_string(limits.max_image_bytes) +
                " bytes in all"
        );
        err.status = 413;
        return err;
    }
    if (body.size() - tally.image_bytes > limits.max_body_bytes)
        return too_large(limits.max_body_bytes);
    if (auto err = read_model(*o, limits, default_model, out.request.model))
        return std::move(*err);
    if (auto err = read_options(*o, limits, out))
        return std::move(*err);
    if (how == upstream_body::translate) {
        if (auto err = check_translatable(*o))
            return std::move(*err);
        return out;
    }
    if (how == upstream_body::anthropic) {
        auto translated =
            anthropic_request_body(*o, out.request.model, anthropic_default_max_tokens);
        if (auto* err = std::get_if<translation_error>(&translated))
            return fail(std::move(err->param), std::move(err->message));
        out.request.forward =
            forwarded_request{std::move(std::get<std::string>(translated)), out.stream};
        return out;
    }
    out.request.forward = forwarded_request{forwarded_body(body, *o, *members, out), out.stream};
    return out;
}

} // namespace tokenrelay::protocol
