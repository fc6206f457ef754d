#include <tokenrelay/core/json_text.hpp>
#include <tokenrelay/upstream/request_body.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace tokenrelay::upstream {
namespace {

// Shortest round-trip form ("0.7"), where boost::json would write "7E-1": both are
// valid JSON, but servers and humans reading logs expect the former.
void append_number(std::string& out, double value)
{
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, ec == std::errc{} ? end : buf);
}

/// An Anthropic content block list for OpenAI content parts (chat_turn::parts): text
/// blocks, and image blocks with a base64 source for a data: URL or a url source.
std::string anthropic_blocks(std::string_view parts_json)
{
    boost::system::error_code ec;
    const auto jv = boost::json::parse(parts_json, ec);
    boost::json::array blocks;
    if (const auto* parts = ec ? nullptr : jv.if_array()) {
        for (const auto& part : *parts) {
            const auto* o = part.if_object();
            if (!o)
                continue;
            boost::json::object block;
            if (const auto* text = o->if_contains("text"); text && text->is_string()) {
                block["type"] = "text";
                block["text"] = text->get_string();
            } else if (const auto* image = o->if_contains("image_url");
                       image && image->is_object()) {
                const auto* url = image->get_object().if_contains("url");
                if (!url || !url->is_string())
                    continue;
                const std::string_view u = url->get_string();
                boost::json::object source;
                // data:<media type>;base64,<data> (the frame decoder checked the form)
                if (u.starts_with("data:")) {
                    const auto semi = u.find(';');
                    const auto comma = u.find(',');
                    source["type"] = "base64";
                    source["media_type"] = u.substr(5, semi - 5);
                    source["data"] = u.substr(comma + 1);
                } else {
                    source["type"] = "url";
                    source["url"] = u;
                }
                block["type"] = "image";
                block["source"] = std::move(source);
            } else {
                continue;
            }
            blocks.push_back(std::move(block));
        }
    }
    return boost::json::serialize(blocks);
}

/// A turn's `content`: its parts when it has images, else its text.
void append_content(std::string& out, const chat_turn& m, bool anthropic)
{
    if (m.parts.empty())
        append_json_string(out, m.content);
    else
        out += anthropic ? anthropic_blocks(m.parts) : m.parts;
}

} // namespace

std::string build_request_body(const chat_request& request)
{
    std::string out;
    std::size_t estimate = 128 + request.model.size();
    for (const auto& m : request.messages)
        estimate += 32 + m.role.size() + m.content.size() + m.content.size() / 8 + m.parts.size();
    out.reserve(estimate);

    out += R"({"model":)";
    append_json_string(out, request.model);
    out += R"(,"messages":[)";
    bool first = true;
    for (const auto& m : request.messages) {
        if (!first)
            out += ',';
        first = false;
        out += R"({"role":)";
        append_json_string(out, m.role);
        out += R"(,"content":)";
        append_content(out, m, false);
        out += '}';
    }
    out += R"(],"stream":true,"stream_options":{"include_usage":true})";
    // A non-finite number has no JSON spelling; the protocol layer already refuses one.
    if (request.temperature && std::isfinite(*request.temperature)) {
        out += R"(,"temperature":)";
        append_number(out, *request.temperature);
    }
    if (request.max_tokens) {
        out += R"(,"max_tokens":)";
        out += std::to_string(*request.max_tokens);
    }
    out += '}';
    return out;
}

std::string build_anthropic_request_body(const chat_request& request)
{
    std::string out;
    std::size_t estimate = 160 + request.model.size();
    for (const auto& m : request.messages)
        estimate += 32 + m.role.size() + m.content.size() + m.content.size() / 8;
    out.reserve(estimate);

    out += R"({"model":)";
    append_json_string(out, request.model);
    out += R"(,"max_tokens":)";
    out += std::to_string(request.max_tokens.value_or(anthropic_default_max_tokens));
    out += R"(,"stream":true)";

    std::string system;
    bool has_system = false;
    for (const auto& m : request.messages) {
        if (m.role != "system")
            continue;
        if (has_system)
            system += "\n\n";
        system += m.content;
        has_system = true;
    }
    if (has_system) {
        out += R"(,"system":)";
        append_json_string(out, system);
    }

    out += R"(,"messages":[)";
    bool first = true;
    for (const auto& m : request.messages) {
        if (m.role == "system")
            continue;
        if (!first)
            out += ',';
        first = false;
        out += R"({"role":)";
        append_json_string(out, m.role);
        out += R"(,"content":)";
        append_content(out, m, true);
        out += '}';
    }
    out += ']';
    if (request.temperature && std::isfinite(*request.temperature)) {
        out += R"(,"temperature":)";
        append_number(out, *request.temperature);
    }
    out += '}';
    return out;
}

} // namespace tokenrelay::upstream
