#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/protocol/json_values.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <limits>

namespace tokenrelay::protocol {
namespace {

namespace json = boost::json;

constexpr std::size_t max_id_chars = 64;       // PROTOCOL.md section 2, `chat.id`
constexpr std::size_t max_session_chars = 128; // ids are 128 bits of randomness, URL-safe

// Limits in PROTOCOL.md are in characters: Boost.JSON has already checked the string is
// valid UTF-8, so characters are the bytes that do not continue a sequence.
std::size_t utf8_length(std::string_view s)
{
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

decode_error fail(errc code, std::string message, const std::string& id)
{
    return decode_error{code, std::move(message), id};
}

// The `id` a client may attach to chat and cancel; an id that breaks the rule is not
// echoed back, so an error frame stays small whatever the client sent.
bool valid_id(const json::value& v)
{
    const auto* s = v.if_string();
    return s && utf8_length(*s) <= max_id_chars;
}

std::optional<decode_error> read_context(
    const json::value& v,
    const frame_limits& limits,
    std::vector<chat_turn>& out,
    const std::string& id
)
{
    const auto* arr = v.if_array();
    if (!arr)
        return fail(errc::bad_request, "context must be an array of {role, content}", id);
    if (arr->size() > limits.max_context_messages) {
        return fail(
            errc::bad_request,
            "context must have at most " + std::to_string(limits.max_context_messages) +
                " messages",
            id
        );
    }
    out.reserve(arr->size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto where = [i] { return "context[" + std::to_string(i) + "]"; };
        const auto* turn = (*arr)[i].if_object();
        if (!turn)
            return fail(errc::bad_request, where() + " must be an object", id);
        const auto* role = turn->if_contains("role");
        if (!role || !role->is_string() || !known_role(role->get_string())) {
            return fail(
                errc::bad_request, where() + ".role must be one of system, user, assistant", id
            );
        }
        const auto* content = turn->if_contains("content");
        if (!content || !content->is_string())
            return fail(errc::bad_request, where() + ".content must be a string", id);
        total += content->get_string().size();
        if (total > limits.max_context_bytes) {
            return fail(
                errc::bad_request,
                "context must have at most " + std::to_string(limits.max_context_bytes) +
                    " bytes of content",
                id
            );
        }
        out.push_back(chat_turn{std::string(role->get_string()), std::string(content->get_string())}
        );
    }
    return std::nullopt;
}

std::optional<decode_error> read_options(
    const json::value& v, const frame_limits& limits, chat_options& out, const std::string& id
)
{
    const auto* o = v.if_object();
    if (!o)
        return fail(errc::bad_request, "options must be an object", id);

    if (const auto* model = o->if_contains("model")) {
        const auto* s = model->if_string();
        // An empty allow-list refuses every model: the relay then always uses its own.
        if (!s || std::find(limits.allowed_models.begin(), limits.allowed_models.end(), *s) ==
                      limits.allowed_models.end()) {
            return fail(errc::bad_request, "options.model must be one of the allowed models", id);
        }
        out.model = std::string(*s);
    }
    if (const auto* temperature = o->if_contains("temperature")) {
        const auto t = as_number(*temperature);
        if (!t || !(*t >= 0.0 && *t <= 2.0))
            return fail(errc::bad_request, "options.temperature must be a number from 0 to 2", id);
        out.temperature = *t;
    }
    if (const auto* max_tokens = o->if_contains("max_tokens")) {
        const auto n = as_integer(*max_tokens);
        if (!n || *n <= 0 || *n > limits.max_tokens_ceiling) {
            return fail(
                errc::bad_request,
                "options.max_tokens must be an integer from 1 to " +
                    std::to_string(limits.max_tokens_ceiling),
                id
            );
        }
        out.max_tokens = *n;
    }
    return std::nullopt;
}

/// A `data:` image or an `https:` URL: what the upstream APIs take.
bool image_url(std::string_view url)
{
    return (url.starts_with("data:image/") && url.find(";base64,") != std::string_view::npos) ||
           url.starts_with("https://");
}

/// `content` as an array of text and image parts: their text joined into `f.content`,
/// the parts (text, and image_url with its url and any string detail) into `f.parts`.
/// Returns the image URLs' bytes.
std::variant<std::size_t, decode_error> read_parts(
    const json::array& parts, const frame_limits& limits, chat_frame& f, const std::string& id
)
{
    json::array out;
    std::size_t image_bytes = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto where = "content[" + std::to_string(i) + "]";
        const auto* part = parts[i].if_object();
        const auto* type = part ? part->if_contains("type") : nullptr;
        const auto* name = type ? type->if_string() : nullptr;
        if (name && *name == "text") {
            const auto* text = part->if_contains("text");
            if (!text || !text->is_string())
                return fail(errc::bad_request, where + ".text must be a string", id);
            f.content.append(text->get_string().data(), text->get_string().size());
            json::object o;
            o["type"] = "text";
            o["text"] = text->get_string();
            out.push_back(std::move(o));
            continue;
        }
        if (name && *name == "image_url") {
            const auto* image = part->if_contains("image_url");
            const auto* io = image ? image->if_object() : nullptr;
            const auto* url = io ? io->if_contains("url") : nullptr;
            if (!url || !url->is_string() || !image_url(url->get_string())) {
                return fail(
                    errc::bad_request,
                    where + ".image_url.url must be a data:image/…;base64, or https: URL",
                    id
                );
            }
            image_bytes += url->get_string().size();
            json::object inner;
            inner["url"] = url->get_string();
            if (const auto* detail = io->if_contains("detail"); detail && detail->is_string())
                inner["detail"] = detail->get_string();
            json::object o;
            o["type"] = "image_url";
            o["image_url"] = std::move(inner);
            out.push_back(std::move(o));
            continue;
        }
        return fail(errc::bad_request, where + " must be a text or image_url part", id);
    }
    if (image_bytes > limits.max_image_bytes) {
        return fail(
            errc::bad_request,
            "content's images must have at most " + std::to_string(limits.max_image_bytes) +
                " bytes of URL in all",
            id
        );
    }
    // A message of text parts alone is that text.
    if (image_bytes > 0)
        f.parts = json::serialize(out);
    return image_bytes;
}

decode_result decode_chat(
    const json::object& o, const frame_limits& limits, const std::string& id, std::size_t size
)
{
    chat_frame f;
    if (const auto* v = o.if_contains("id")) {
        if (!valid_id(*v))
            return fail(errc::bad_request, "id must be a string of at most 64 characters", id);
        f.id = std::string(v->get_string());
    }

    const auto* content = o.if_contains("content");
    const auto* parts = content ? content->if_array() : nullptr;
    std::size_t image_bytes = 0;
    if (parts && !parts->empty()) {
        auto read = read_parts(*parts, limits, f, id);
        if (auto* err = std::get_if<decode_error>(&read))
            return std::move(*err);
        image_bytes = std::get<std::size_t>(read);
    } else if (content && content->is_string() && !content->get_string().empty()) {
        f.content = std::string(content->get_string());
    } else {
        return fail(errc::bad_request, "content must be a non-empty string or array of parts", id);
    }
    // Images have their own limit; the rest of the frame is held to the message one.
    if (size - image_bytes > limits.max_frame_bytes) {
        auto err = fail(errc::bad_request, "message too big", id);
        err.too_big = true;
        return err;
    }
    if (f.content.size() > limits.max_content_bytes) {
        return fail(
            errc::bad_request,
            "content must be at most " + std::to_string(limits.max_content_bytes) + " bytes",
            id
        );
    }

    if (const auto* v = o.if_contains("context")) {
        f.context.emplace();
        if (auto err = read_context(*v, limits, *f.context, id))
            return std::move(*err);
    }
    if (const auto* v = o.if_contains("options")) {
        if (auto err = read_options(*v, limits, f.options, id))
            return std::move(*err);
    }
    return client_frame{std::move(f)};
}

decode_result decode_cancel(const json::object& o, const std::string& id)
{
    cancel_frame f;
    if (const auto* v = o.if_contains("id")) {
        if (!valid_id(*v))
            return fail(errc::bad_request, "id must be a string of at most 64 characters", id);
        f.id = std::string(v->get_string());
    }
    return client_frame{std::move(f)};
}

decode_result decode_ping(const json::object& o, const std::string& id)
{
    ping_frame f;
    if (const auto* v = o.if_contains("timestamp")) {
        if (!v->is_number())
            return fail(errc::bad_request, "timestamp must be a number", id);
        // Kept as text so the pong echoes it unchanged (an integer stays an integer).
        f.timestamp = json::serialize(*v);
    }
    return client_frame{std::move(f)};
}

decode_result decode_resume(const json::object& o, const std::string& id)
{
    resume_frame f;
    const auto* session = o.if_contains("session");
    if (!session || !session->is_string() || session->get_string().empty() ||
        utf8_length(session->get_string()) > max_session_chars) {
        return fail(
            errc::bad_request, "session must be a non-empty string of at most 128 characters", id
        );
    }
    f.session = std::string(session->get_string());

    const auto* last_seq = o.if_contains("last_seq");
    if (!last_seq)
        return fail(errc::bad_request, "last_seq must be an integer >= 0", id);
    if (last_seq->is_uint64()) {
        f.last_seq = last_seq->get_uint64();
    } else if (last_seq->is_int64() && last_seq->get_int64() >= 0) {
        f.last_seq = static_cast<std::uint64_t>(last_seq->get_int64());
    } else {
        return fail(errc::bad_request, "last_seq must be an integer >= 0", id);
    }
    return client_frame{std::move(f)};
}

} // namespace

std::string text_of_parts(std::string_view parts_json)
{
    boost::system::error_code ec;
    const auto jv = json::parse(parts_json, ec);
    std::string out;
    if (const auto* parts = ec ? nullptr : jv.if_array()) {
        for (const auto& part : *parts) {
            const auto* o = part.if_object();
            const auto* text = o ? o->if_contains("text") : nullptr;
            if (text && text->is_string())
                out.append(text->get_string().data(), text->get_string().size());
        }
    }
    return out;
}

decode_result decode_client_frame(std::string_view text, const frame_limits& limits)
{
    // The parsed value lives only in this call (every string is copied out), so a
    // stack-first arena serves typical frames without touching the heap.
    std::array<unsigned char, 4096> buffer;
    json::monotonic_resource arena(buffer.data(), buffer.size());
    boost::system::error_code ec;
    const json::value jv = json::parse(text, ec, &arena);
    // Only a chat's images may take a frame past the message limit.
    const auto* type_value = jv.is_object() ? jv.get_object().if_contains("type") : nullptr;
    if (text.size() > limits.max_frame_bytes &&
        !(type_value && type_value->is_string() && type_value->get_string() == "chat")) {
        auto err = fail(errc::bad_request, "message too big", {});
        err.too_big = true;
        return err;
    }
    if (ec)
        return fail(errc::bad_json, "frame is not valid JSON", {});
    const auto* o = jv.if_object();
    if (!o)
        return fail(errc::bad_json, "frame must be a JSON object", {});

    // The error frame carries the id of the message it answers (PROTOCOL.md section 2).
    std::string id;
    if (const auto* v = o->if_contains("id"); v && valid_id(*v))
        id = std::string(v->get_string());

    const auto* type = o->if_contains("type");
    const json::string* name = type ? type->if_string() : nullptr;
    if (name) {
        if (*name == "chat")
            return decode_chat(*o, limits, id, text.size());
        if (*name == "cancel")
            return decode_cancel(*o, id);
        if (*name == "ping")
            return decode_ping(*o, id);
        if (*name == "resume")
            return decode_resume(*o, id);
        if (*name == "history")
            return client_frame{history_frame{}};
    }
    return fail(errc::unknown_type, "type must be one of chat, cancel, ping, resume, history", id);
}

} // namespace tokenrelay::protocol
