#include <tokenrelay/protocol/server_frame.hpp>

#include <charconv>
#include <cstring>
#include <utility>

namespace tokenrelay::protocol {
namespace {

template <class Int> void append_int(std::string& out, Int v)
{
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Only digits, sign, point and exponent: the echoed ping timestamp is raw text and must
// not be able to change the frame's structure.
bool looks_like_number(std::string_view s)
{
    if (s.empty())
        return false;
    for (const char c : s) {
        const bool ok =
            (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
        if (!ok)
            return false;
    }
    return true;
}

} // namespace

void append_session_frame(
    std::string& out,
    std::string_view session_id,
    bool resumed,
    std::uint64_t last_seq,
    std::uint64_t first_seq,
    std::size_t connections
)
{
    out += R"({"type":"session","session":)";
    append_json_string(out, session_id);
    out += resumed ? R"(,"resumed":true)" : R"(,"resumed":false)";
    out += R"(,"protocol":1,"last_seq":)";
    append_int(out, last_seq);
    out += R"(,"first_seq":)";
    append_int(out, first_seq);
    out += R"(,"connections":)";
    append_int(out, connections);
    out += '}';
}

namespace {

/// A token-shaped frame whose content is text, or JSON already (content parts).
void append_text_frame(
    std::string& out,
    std::string_view type,
    std::string_view content,
    bool content_is_json,
    std::int64_t timestamp_ms,
    std::uint64_t seq,
    std::string_view id
)
{
    out += R"({"type":)";
    append_json_string(out, type);
    out += R"(,"content":)";
    if (content_is_json)
        out += content;
    else
        append_json_string(out, content);
    out += R"(,"timestamp":)";
    append_int(out, timestamp_ms);
    out += R"(,"seq":)";
    append_int(out, seq);
    out += R"(,"id":)";
    append_json_string(out, id);
    out += '}';
}

} // namespace

void append_token_frame(
    std::string& out,
    std::string_view type,
    std::string_view content,
    std::int64_t timestamp_ms,
    std::uint64_t seq,
    std::string_view id
)
{
    append_text_frame(out, type, content, false, timestamp_ms, seq, id);
}

void append_user_parts_frame(
    std::string& out,
    std::string_view parts_json,
    std::int64_t timestamp_ms,
    std::uint64_t seq,
    std::string_view id
)
{
    append_text_frame(out, "user", parts_json, true, timestamp_ms, seq, id);
}

void append_stream_end_frame(std::string& out, const stream_end_fields& f)
{
    out += R"({"type":"stream_end","id":)";
    append_json_string(out, f.id);
    out += R"(,"seq":)";
    append_int(out, f.seq);
    out += R"(,"reason":)";
    append_json_string(out, f.reason);
    if (f.usage) {
        out += R"(,"usage":{"prompt_tokens":)";
        append_int(out, f.usage->prompt_tokens);
        out += R"(,"completion_tokens":)";
        append_int(out, f.usage->completion_tokens);
        if (looks_like_number(f.cost_usd)) {
            out += R"(,"cost_usd":)";
            out += f.cost_usd;
        }
        if (f.usage_estimated)
            out += R"(,"estimated":true)";
        out += '}';
    }
    out += R"(,"timing":{"ttft_ms":)";
    if (f.ttft_ms < 0)
        out += "null";
    else
        append_int(out, f.ttft_ms);
    out += R"(,"total_ms":)";
    append_int(out, f.total_ms);
    out += "}}";
}

void append_history_frame(
    std::string& out, std::span<const history_message> messages, std::uint64_t through_seq
)
{
    out += R"({"type":"history","messages":[)";
    bool first = true;
    for (const auto& m : messages) {
        if (!std::exchange(first, false))
            out += ',';
        out += R"({"role":)";
        append_json_string(out, m.role);
        out += R"(,"content":)";
        if (m.parts.empty())
            append_json_string(out, m.content);
        else
            out += m.parts;
        out += R"(,"id":)";
        append_json_string(out, m.id);
        out += '}';
    }
    out += R"(],"through_seq":)";
    append_int(out, through_seq);
    out += '}';
}

void append_pong_frame(std::string& out, std::int64_t now_ms, std::string_view client_timestamp)
{
    out += R"({"type":"pong","timestamp":)";
    append_int(out, now_ms);
    if (looks_like_number(client_timestamp)) {
        out += R"(,"client_timestamp":)";
        out += client_timestamp;
    }
    out += '}';
}

void append_error_frame(
    std::string& out,
    errc code,
    std::string_view message,
    std::string_view id,
    std::optional<std::int64_t> retry_after_ms
)
{
    out += R"({"type":"error","code":)";
    append_json_string(out, code_name(code));
    out += R"(,"message":)";
    append_json_string(out, message);
    if (!id.empty()) {
        out += R"(,"id":)";
        append_json_string(out, id);
    }
    if (retry_after_ms) {
        out += R"(,"retry_after_ms":)";
        append_int(out, *retry_after_ms);
    }
    out += '}';
}

} // namespace tokenrelay::protocol
