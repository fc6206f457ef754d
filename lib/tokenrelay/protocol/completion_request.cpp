#include <tokenrelay/protocol/completion_request.hpp>
#include <tokenrelay/protocol/json_values.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

namespace tokenrelay::protocol {
namespace {

namespace json = boost::json;

completion_error fail(std::string param, std::string message)
{
    return completion_error{errc::bad_request, std::move(message), std::move(param)};
}

// JSON null stands for "not given" in OpenAI's API (the SDKs send it for unset options).
const json::value* given(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

// OpenAI's content is a string or an array of parts; only text parts have a meaning for
// a text model, so any other part is refused rather than dropped.
std::optional<completion_error>
read_content(const json::value& v, const std::string& where, std::string& out)
{
    if (const auto* s = v.if_string()) {
        out.assign(s->data(), s->size());
        return std::nullopt;
    }
    const auto* parts = v.if_array();
    if (!parts)
        return fail(where, where + " must be a string or an array of text parts");
    for (std::size_t i = 0; i < parts->size(); ++i) {
        const auto* part = (*parts)[i].if_object();
        const json::value* type = part ? part->if_contains("type") : nullptr;
        const json::value* text = part ? part->if_contains("text") : nullptr;
        if (!type || !type->is_string() || type->get_string() != "text" || !text ||
            !text->is_string()) {
            return fail(
                where, where + "[" + std::to_string(i) + "] must be {\"type\":\"text\",\"text\":…}"
            );
        }
        out.append(text->get_string().data(), text->get_string().size());
    }
    return std::nullopt;
}

std::optional<completion_error>
read_messages(const json::object& o, const frame_limits& limits, std::vector<chat_turn>& out)
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
    out.reserve(arr->size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string where = "messages[" + std::to_string(i) + "]";
        const auto* turn = (*arr)[i].if_object();
        if (!turn)
            return fail(where, where + " must be an object");
        const auto* role = turn->if_contains("role");
        if (!role || !role->is_string() || !known_role(role->get_string()))
            return fail(where + ".role", where + ".role must be one of system, user, assistant");
        const auto* content = given(*turn, "content");
        if (!content)
            return fail(where + ".content", where + ".content is required");
        chat_turn t{std::string(role->get_string()), {}};
        if (auto err = read_content(*content, where + ".content", t.content))
            return err;
        total += t.content.size();
        if (total > max_bytes) {
            return fail(
                "messages",
                "messages must have at most " + std::to_string(max_bytes) + " bytes of content"
            );
        }
        out.push_back(std::move(t));
    }
    return std::nullopt;
}

std::optional<completion_error> read_options(
    const json::object& o,
    const frame_limits& limits,
    std::string_view default_model,
    completion_request& out
)
{
    out.request.model = std::string(default_model);
    if (const auto* model = given(o, "model")) {
        const auto* s = model->if_string();
        if (!s || std::find(limits.allowed_models.begin(), limits.allowed_models.end(), *s) ==
                      limits.allowed_models.end()) {
            return fail("model", "model must be one of the allowed models");
        }
        out.request.model = std::string(*s);
    }
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
    if (const auto* n = given(o, "n")) {
        if (const auto i = as_integer(*n); !i || *i != 1)
            return fail("n", "n must be 1: the relay returns one choice");
    }
    if (given(o, "tools") || given(o, "functions"))
        return fail("tools", "tools and functions are not supported by this relay");
    return std::nullopt;
}

} // namespace

completion_parse_result parse_completion_request(
    std::string_view body, const frame_limits& limits, std::string_view default_model
)
{
    // The value lives only in this call (every string is copied out).
    std::array<unsigned char, 4096> buffer;
    json::monotonic_resource arena(buffer.data(), buffer.size());
    boost::system::error_code ec;
    const json::value jv = json::parse(body, ec, &arena);
    if (ec)
        return completion_error{errc::bad_json, "the request body is not valid JSON", {}};
    const auto* o = jv.if_object();
    if (!o)
        return completion_error{errc::bad_json, "the request body must be a JSON object", {}};

    completion_request out;
    if (auto err = read_messages(*o, limits, out.request.messages))
        return std::move(*err);
    if (auto err = read_options(*o, limits, default_model, out))
        return std::move(*err);
    return out;
}

} // namespace tokenrelay::protocol
