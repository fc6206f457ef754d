#include <tokenrelay/protocol/completion_chunks.hpp>
#include <tokenrelay/protocol/server_frame.hpp>

namespace tokenrelay::protocol {
namespace {

std::string_view type_for(errc code)
{
    switch (code) {
    case errc::bad_json:
    case errc::bad_request:
    case errc::unknown_type:
    case errc::busy:
    case errc::session_not_found:
        return "invalid_request_error";
    case errc::unauthorized:
        return "authentication_error";
    case errc::rate_limited:
        return "rate_limit_error";
    case errc::upstream_error:
    case errc::timeout:
    case errc::overloaded:
    case errc::store_unavailable:
        break;
    }
    return "server_error";
}

void append_envelope(std::string& out, const completion_meta& meta, std::string_view object)
{
    out += R"({"id":)";
    append_json_string(out, meta.id);
    out += R"(,"object":")";
    out += object;
    out += R"(","created":)";
    out += std::to_string(meta.created);
    out += R"(,"model":)";
    append_json_string(out, meta.model);
}

void append_usage(std::string& out, const token_usage& usage)
{
    out += R"("usage":{"prompt_tokens":)";
    out += std::to_string(usage.prompt_tokens);
    out += R"(,"completion_tokens":)";
    out += std::to_string(usage.completion_tokens);
    out += R"(,"total_tokens":)";
    out += std::to_string(usage.prompt_tokens + usage.completion_tokens);
    out += '}';
}

void append_error_object(std::string& out, const api_error& e)
{
    out += R"({"error":{"message":)";
    append_json_string(out, e.message);
    out += R"(,"type":)";
    append_json_string(out, e.type);
    out += R"(,"param":)";
    if (e.param.empty())
        out += "null";
    else
        append_json_string(out, e.param);
    out += R"(,"code":)";
    append_json_string(out, e.code);
    out += "}}";
}

std::string_view finish_or_stop(std::string_view reason)
{
    return reason.empty() ? std::string_view("stop") : reason;
}

} // namespace

api_error make_api_error(errc code, std::string message, std::string param)
{
    return api_error{
        std::move(message),
        std::string(type_for(code)),
        std::string(code_name(code)),
        std::move(param)};
}

std::string error_body(const api_error& e)
{
    std::string out;
    append_error_object(out, e);
    return out;
}

void append_role_chunk(std::string& out, const completion_meta& meta)
{
    out += "data: ";
    append_envelope(out, meta, "chat.completion.chunk");
    out += R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},)"
           R"("finish_reason":null}]})"
           "\n\n";
}

void append_delta_chunk(
    std::string& out, const completion_meta& meta, std::string_view text, delta_field field
)
{
    out += "data: ";
    append_envelope(out, meta, "chat.completion.chunk");
    switch (field) {
    case delta_field::content:
        out += R"(,"choices":[{"index":0,"delta":{"content":)";
        break;
    case delta_field::reasoning_content:
        out += R"(,"choices":[{"index":0,"delta":{"reasoning_content":)";
        break;
    case delta_field::refusal:
        out += R"(,"choices":[{"index":0,"delta":{"refusal":)";
        break;
    }
    append_json_string(out, text);
    out += R"(},"finish_reason":null}]})"
           "\n\n";
}

void append_finish_chunk(std::string& out, const completion_meta& meta, std::string_view reason)
{
    out += "data: ";
    append_envelope(out, meta, "chat.completion.chunk");
    out += R"(,"choices":[{"index":0,"delta":{},"finish_reason":)";
    append_json_string(out, finish_or_stop(reason));
    out += "}]}\n\n";
}

void append_usage_chunk(std::string& out, const completion_meta& meta, const token_usage& usage)
{
    out += "data: ";
    append_envelope(out, meta, "chat.completion.chunk");
    out += R"(,"choices":[],)";
    append_usage(out, usage);
    out += "}\n\n";
}

void append_error_event(std::string& out, const api_error& e)
{
    out += "data: ";
    append_error_object(out, e);
    out += "\n\n";
}

void append_done_event(std::string& out)
{
    out += "data: [DONE]\n\n";
}

std::string completion_body(
    const completion_meta& meta,
    std::string_view content,
    std::string_view reasoning,
    std::string_view refusal,
    std::string_view finish_reason,
    const std::optional<token_usage>& usage
)
{
    std::string out;
    out.reserve(content.size() + reasoning.size() + refusal.size() + 256);
    append_envelope(out, meta, "chat.completion");
    out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
    append_json_string(out, content);
    if (!reasoning.empty()) {
        out += R"(,"reasoning_content":)";
        append_json_string(out, reasoning);
    }
    if (!refusal.empty()) {
        out += R"(,"refusal":)";
        append_json_string(out, refusal);
    }
    out += R"(},"finish_reason":)";
    append_json_string(out, finish_or_stop(finish_reason));
    out += "}]";
    if (usage) {
        out += ',';
        append_usage(out, *usage);
    }
    out += '}';
    return out;
}

} // namespace tokenrelay::protocol
