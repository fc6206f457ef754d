#include <boost/json/serialize.hpp>

#include <algorithm>
#include <testing/mock/stream_writer.hpp>

namespace tokenrelay::mock {
namespace {

// `logprobs_json`, when given, is the choice's `logprobs` value.
std::string delta_choice(std::string_view delta_json, std::string_view logprobs_json = {})
{
    std::string s = R"("choices":[{"index":0,"delta":)";
    s += delta_json;
    if (!logprobs_json.empty()) {
        s += R"(,"logprobs":)";
        s += logprobs_json;
    }
    s += R"(,"finish_reason":null}])";
    return s;
}

// Printable ASCII other than `"` and `\` serialises as itself, the same bytes
// boost::json::serialize writes, so such text can skip the serialiser.
bool json_verbatim(std::string_view s) noexcept
{
    return std::all_of(s.begin(), s.end(), [](char c) {
        return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\';
    });
}

} // namespace

stream_writer::stream_writer(plan p, chat_input in, std::uint64_t id, std::int64_t created)
    : plan_(std::move(p)), in_(std::move(in)), line_end_(line_end_text(plan_.lineend)), id_(id)
{
    envelope_ = R"({"id":"mock-)" + std::to_string(id) +
                R"(","object":"chat.completion.chunk","created":)" + std::to_string(created) +
                R"(,"model":)" + in_.model_json + ",";

    const auto empty_event = event(chunk(delta_choice(R"({"content":""})")));
    const auto quotes =
        empty_event.find(R"({"content":"")") + std::string_view(R"({"content":")").size();
    content_head_ = empty_event.substr(0, quotes);
    content_tail_ = empty_event.substr(quotes);

    total_ = plan_.tool_call ? planned_tool_call_pieces(plan_) : planned_token_count(plan_, in_);

    if (plan_.stall) {
        phase_ = phase::over;
        end_ = stream_end::stall;
    }
}

std::string stream_writer::event(std::string_view data) const
{
    std::string s;
    if (plan_.comments) {
        s += ": keep-alive";
        s += line_end_;
        s += "event: message";
        s += line_end_;
    }
    s += "data: ";
    s += data;
    s += line_end_;
    s += line_end_;
    return s;
}

std::string stream_writer::chunk(std::string_view rest) const
{
    std::string s = envelope_;
    s += rest;
    s += '}';
    return s;
}

std::string stream_writer::token_text(std::size_t i) const
{
    if (plan_.stamp && plain_w_tokens(plan_, in_))
        return "w" + std::to_string(i) + "@" + std::string(stamp_digits, '0') + " ";
    return plain_token_text(plan_, in_, i);
}

namespace {

std::string echoed_key_text(const chat_input& in)
{
    return "key " + in.bearer_token + " end ";
}

bool tool_result(const chat_input& in) noexcept
{
    return in.last_role == "tool";
}

// The count `total` cut by stall_after / disconnect_after ("K tokens, then ..."); when
// `bounded`, the reply's content is finite and the cut cannot make it longer.
std::size_t cut_token_count(const plan& p, std::size_t total, bool bounded)
{
    std::optional<std::size_t> cut;
    if (p.stall_after)
        cut = p.stall_after;
    if (p.disconnect_after && (!cut || *p.disconnect_after < *cut))
        cut = p.disconnect_after;
    if (cut)
        total = bounded ? std::min(total, *cut) : *cut;
    return total;
}

} // namespace

std::size_t planned_token_count(const plan& p, const chat_input& in)
{
    std::size_t total = p.tokens;
    if (p.echo)
        total = 1;
    else if (p.echo_key)
        total = (echoed_key_text(in).size() + *p.echo_key - 1) / *p.echo_key;
    else if (p.huge)
        total = (*p.huge + huge_token_size - 1) / huge_token_size;
    else if (tool_result(in))
        total = 1;
    return cut_token_count(p, total, !plain_w_tokens(p, in));
}

bool plain_w_tokens(const plan& p, const chat_input& in) noexcept
{
    return !p.echo && !p.echo_key && !p.huge && !tool_result(in);
}

std::size_t planned_tool_call_pieces(const plan& p)
{
    return cut_token_count(p, tool_call_arguments.size(), true);
}

std::string tool_call_id(std::uint64_t id)
{
    return "call_mock_" + std::to_string(id);
}

std::string_view finish_reason(const plan& p) noexcept
{
    if (p.tool_call && !p.finish_given)
        return "tool_calls";
    return p.finish;
}

std::string logprob_entry(std::string_view token)
{
    return R"({"token":)" + json_string(token) +
           R"(,"logprob":-0.25,"bytes":null,"top_logprobs":[]})";
}

std::string plain_token_text(const plan& p, const chat_input& in, std::size_t i)
{
    if (p.echo)
        return in.messages_json;
    if (p.echo_key)
        return echoed_key_text(in).substr(i * *p.echo_key, *p.echo_key);
    if (p.huge) {
        const auto left = *p.huge - i * huge_token_size;
        return std::string(std::min(left, huge_token_size), 'x');
    }
    if (tool_result(in))
        return "tool result: " + in.last_content;
    return "w" + std::to_string(i) + " ";
}

sse_piece stream_writer::content_piece(std::string_view text, std::chrono::milliseconds delay) const
{
    sse_piece piece{delay, {}};
    // Only the plain `w<i>` tokens are stamped; their text never needs escaping, so the
    // event starts with content_head_ whenever the token is in `content`.
    const bool stamped = plan_.stamp && plain_w_tokens(plan_, in_) && json_verbatim(text);
    const auto stamp_at = [&] { return content_head_.size() + text.size() - 1 - stamp_digits; };
    if (plan_.refusal) {
        piece.bytes = event(chunk(delta_choice(R"({"refusal":)" + json_string(text) + "}")));
        return piece;
    }
    if (plan_.parts || in_.logprobs || !json_verbatim(text)) {
        const auto delta = plan_.parts
                               ? R"({"content":[{"type":"text","text":)" + json_string(text) + "}]}"
                               : R"({"content":)" + json_string(text) + "}";
        const auto logprobs =
            in_.logprobs ? R"({"content":[)" + logprob_entry(text) + "]}" : std::string{};
        piece.bytes = event(chunk(delta_choice(delta, logprobs)));
        if (stamped && !plan_.parts)
            piece.stamp_at = stamp_at();
        return piece;
    }
    auto& b = piece.bytes;
    b.reserve(content_head_.size() + text.size() + content_tail_.size());
    b += content_head_;
    b += text;
    b += content_tail_;
    if (stamped)
        piece.stamp_at = stamp_at();
    return piece;
}

sse_piece stream_writer::tool_call_piece(std::size_t i, std::chrono::milliseconds delay) const
{
    return sse_piece{
        delay,
        event(chunk(delta_choice(
            R"({"tool_calls":[{"index":0,"function":{"arguments":)" +
            json_string(tool_call_arguments[i]) + "}}]}"
        )))};
}

std::optional<sse_piece> stream_writer::next()
{
    // Tokens (reasoning or content) wait for the interval; `mock:huge` is as fast as possible.
    const auto token_delay = plan_.huge ? std::chrono::milliseconds{0} : plan_.interval;

    switch (phase_) {
    case phase::role:
        phase_ = plan_.reasoning > 0 ? phase::reasoning : phase::content;
        return sse_piece{{}, event(chunk(delta_choice(R"({"role":"assistant","content":""})")))};

    case phase::reasoning: {
        const auto text = "r" + std::to_string(reasoning_sent_) + " ";
        if (++reasoning_sent_ == plan_.reasoning)
            phase_ = phase::content;
        const auto delta =
            plan_.parts ? R"({"content":[{"type":"thinking","thinking":[{"type":"text","text":)" +
                              json_string(text) + "}]}]}"
                        : R"({"reasoning_content":)" + json_string(text) + "}";
        return sse_piece{token_delay, event(chunk(delta_choice(delta)))};
    }

    case phase::content:
        if (empty_pending_ > 0) {
            // Both forms of "no text" that real servers send between tokens.
            const char* delta = empty_pending_ == 2 ? R"({"content":""})" : R"({"content":null})";
            --empty_pending_;
            return sse_piece{{}, event(chunk(delta_choice(delta)))};
        }
        if ((plan_.malformed || plan_.error_event) && !extra_sent_ && (sent_ >= 1 || total_ == 0)) {
            extra_sent_ = true;
            phase_ = phase::over;
            end_ = stream_end::complete;
            return sse_piece{
                {},
                event(
                    plan_.malformed
                        ? "{not json"
                        : R"({"error":{"message":"mock stream error","type":"mock_error"}})"
                )};
        }
        if (sent_ == total_) {
            if (plan_.stall_after || plan_.disconnect_after) {
                const bool disconnect =
                    plan_.disconnect_after &&
                    (!plan_.stall_after || *plan_.disconnect_after < *plan_.stall_after);
                phase_ = phase::over;
                end_ = disconnect ? stream_end::disconnect : stream_end::stall;
                return std::nullopt;
            }
            phase_ = plan_.no_done ? phase::over : phase::finish;
            return next();
        }
        if (plan_.tool_call) {
            if (!tool_head_sent_) {
                // As OpenAI: the call's id, type and name first, its arguments in pieces after.
                tool_head_sent_ = true;
                return sse_piece{
                    {},
                    event(chunk(delta_choice(
                        R"({"tool_calls":[{"index":0,"id":)" + json_string(tool_call_id(id_)) +
                        R"(,"type":"function","function":{"name":)" + json_string(in_.tool_name) +
                        R"(,"arguments":""}}]})"
                    )))};
            }
            auto piece = tool_call_piece(sent_, token_delay);
            ++sent_;
            if (plan_.empty_deltas && sent_ < total_)
                empty_pending_ = 2;
            return piece;
        }
        {
            auto text = token_text(sent_);
            ++sent_;
            if (plan_.empty_deltas && sent_ < total_)
                empty_pending_ = 2;
            return content_piece(text, token_delay);
        }

    case phase::finish:
        phase_ = plan_.no_usage ? phase::done : phase::usage;
        return sse_piece{
            {},
            event(chunk(
                R"("choices":[{"index":0,"delta":{},"finish_reason":)" +
                json_string(finish_reason(plan_)) + "}]"
            ))};

    case phase::usage: {
        phase_ = phase::done;
        const auto p = prompt_tokens(in_.prompt_chars);
        std::string rest = plan_.usage_null_choices ? R"("choices":null)" : R"("choices":[])";
        rest += plan_.groq_usage ? R"(,"x_groq":{"id":"req_mock","usage":{"prompt_tokens":)"
                                 : R"(,"usage":{"prompt_tokens":)";
        rest += std::to_string(p) + R"(,"completion_tokens":)" + std::to_string(sent_) +
                R"(,"total_tokens":)" + std::to_string(p + sent_) + "}";
        if (plan_.groq_usage)
            rest += "}";
        return sse_piece{{}, event(chunk(rest))};
    }

    case phase::done:
        phase_ = phase::over;
        return sse_piece{{}, event("[DONE]")};

    case phase::over:
        break;
    }
    return std::nullopt;
}

void fill_stamp(sse_piece& p, std::int64_t unix_micros) noexcept
{
    if (!p.stamp_at || *p.stamp_at + stamp_digits > p.bytes.size())
        return;
    auto* digits = p.bytes.data() + *p.stamp_at;
    auto v = static_cast<std::uint64_t>(unix_micros < 0 ? 0 : unix_micros);
    for (std::size_t i = stamp_digits; i-- > 0;) {
        digits[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
}

void append_http_chunk(std::string& out, std::string_view data)
{
    if (data.empty())
        return;
    static constexpr char hex[] = "0123456789abcdef";
    char size[2 * sizeof(std::size_t)];
    char* p = size + sizeof size;
    std::size_t n = data.size();
    do {
        *--p = hex[n & 0xF];
        n >>= 4;
    } while (n != 0);
    out.append(p, size + sizeof size);
    out += "\r\n";
    out += data;
    out += "\r\n";
}

std::string json_string(std::string_view s)
{
    return boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

std::string_view line_end_text(line_end le) noexcept
{
    switch (le) {
    case line_end::crlf:
        return "\r\n";
    case line_end::cr:
        return "\r";
    case line_end::lf:
        break;
    }
    return "\n";
}

} // namespace tokenrelay::mock
