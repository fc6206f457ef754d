#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <testing/loadgen/frames.hpp>

namespace tokenrelay::loadgen {
namespace {

namespace json = boost::json;

std::string string_of(const json::object& o, std::string_view key)
{
    if (const auto* v = o.if_contains(key); v && v->is_string())
        return std::string(v->get_string());
    return {};
}

std::optional<std::uint64_t> uint_of(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v)
        return std::nullopt;
    if (const auto* u = v->if_uint64())
        return *u;
    if (const auto* i = v->if_int64(); i && *i >= 0)
        return static_cast<std::uint64_t>(*i);
    return std::nullopt;
}

frame_type type_of(std::string_view t)
{
    if (t == "token")
        return frame_type::token;
    if (t == "stream_end")
        return frame_type::stream_end;
    if (t == "session")
        return frame_type::session;
    if (t == "user")
        return frame_type::user;
    if (t == "reasoning")
        return frame_type::reasoning;
    if (t == "pong")
        return frame_type::pong;
    if (t == "error")
        return frame_type::error;
    return frame_type::other;
}

} // namespace

bool frame_decoder::decode(std::string_view text, server_frame& out)
{
    boost::system::error_code ec;
    parser_.reset();
    parser_.write(text.data(), text.size(), ec);
    if (ec)
        return false;
    const auto v = parser_.release();
    const auto* o = v.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (!type || !type->is_string())
        return false;

    out = server_frame{};
    out.type = type_of(type->get_string());
    switch (out.type) {
    case frame_type::token:
    case frame_type::reasoning:
        out.content = string_of(*o, "content");
        out.seq = uint_of(*o, "seq");
        out.id = string_of(*o, "id");
        break;
    case frame_type::stream_end:
        out.seq = uint_of(*o, "seq");
        out.id = string_of(*o, "id");
        out.reason = string_of(*o, "reason");
        break;
    case frame_type::user:
        out.seq = uint_of(*o, "seq");
        out.id = string_of(*o, "id");
        break;
    case frame_type::session:
        out.session = string_of(*o, "session");
        if (const auto* r = o->if_contains("resumed"); r && r->is_bool())
            out.resumed = r->get_bool();
        out.last_seq = uint_of(*o, "last_seq").value_or(0);
        out.first_seq = uint_of(*o, "first_seq").value_or(0);
        break;
    case frame_type::error:
        out.code = string_of(*o, "code");
        out.id = string_of(*o, "id");
        break;
    case frame_type::pong:
    case frame_type::other:
        break;
    }
    return true;
}

std::string chat_content(std::size_t tokens, std::size_t interval_ms, bool stamp)
{
    std::string s = "hello mock:tokens=" + std::to_string(tokens);
    s += " mock:interval=" + std::to_string(interval_ms);
    if (stamp)
        s += " mock:stamp";
    return s;
}

std::string chat_frame(std::string_view content, std::string_view id, bool tutorial)
{
    json::object o;
    o["type"] = "chat";
    o["content"] = content;
    if (tutorial)
        o["context"] = json::array{};
    else if (!id.empty())
        o["id"] = id;
    return json::serialize(o);
}

std::string ping_frame(std::int64_t timestamp_ms)
{
    return R"({"type":"ping","timestamp":)" + std::to_string(timestamp_ms) + "}";
}

std::string cancel_frame(std::string_view id)
{
    json::object o;
    o["type"] = "cancel";
    o["id"] = id;
    return json::serialize(o);
}

std::string completions_body(std::string_view model, std::string_view content)
{
    json::object msg;
    msg["role"] = "user";
    msg["content"] = content;
    json::object o;
    o["model"] = model;
    o["stream"] = true;
    o["messages"] = json::array{std::move(msg)};
    return json::serialize(o);
}

sse_chunk sse_chunk_decoder::decode(std::string_view data)
{
    sse_chunk out;
    if (data == "[DONE]") {
        out.done = true;
        return out;
    }
    boost::system::error_code ec;
    parser_.reset();
    parser_.write(data.data(), data.size(), ec);
    if (ec) {
        out.error = true;
        return out;
    }
    const auto v = parser_.release();
    const auto* o = v.if_object();
    if (!o || o->contains("error")) {
        out.error = true;
        return out;
    }
    const auto* choices = o->if_contains("choices");
    const auto* arr = choices ? choices->if_array() : nullptr;
    if (!arr || arr->empty())
        return out;
    const auto* choice = arr->front().if_object();
    if (!choice)
        return out;
    out.finish_reason = string_of(*choice, "finish_reason");
    if (const auto* delta = choice->if_contains("delta"); delta && delta->is_object())
        out.content = string_of(delta->get_object(), "content");
    return out;
}

} // namespace tokenrelay::loadgen
