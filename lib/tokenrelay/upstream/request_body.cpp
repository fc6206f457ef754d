#include <tokenrelay/core/json_text.hpp>
#include <tokenrelay/upstream/request_body.hpp>

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

} // namespace

std::string build_request_body(const chat_request& request)
{
    std::string out;
    std::size_t estimate = 128 + request.model.size();
    for (const auto& m : request.messages)
        estimate += 32 + m.role.size() + m.content.size() + m.content.size() / 8;
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
        append_json_string(out, m.content);
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
        append_json_string(out, m.content);
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
