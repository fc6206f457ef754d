#include <boost/json/serialize.hpp>

#include <algorithm>
#include <testing/mock/anthropic_writer.hpp>

namespace tokenrelay::mock {
namespace {

// The relay maps these back: end_turn to "stop", max_tokens to "length".
std::string stop_reason_of(std::string_view finish)
{
    if (finish == "stop")
        return "end_turn";
    if (finish == "length")
        return "max_tokens";
    return std::string(finish);
}

// `tool_use` for `mock:tool_call`, unless `mock:finish` names another reason.
std::string stop_reason_of(const plan& p)
{
    if (p.tool_call && !p.finish_given)
        return "tool_use";
    return stop_reason_of(p.finish);
}

std::string tool_use_start(std::uint64_t id, const chat_input& in)
{
    return R"({"type":"tool_use","id":)" + json_string(tool_use_id(id)) + R"(,"name":)" +
           json_string(in.tool_name) + R"(,"input":)";
}

std::string reasoning_text(std::size_t events)
{
    std::string text;
    for (std::size_t i = 0; i < events; ++i)
        text += "r" + std::to_string(i) + " ";
    return text;
}

std::size_t count_code_points(std::string_view s) noexcept
{
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

bool has_type(const boost::json::object& o, std::string_view type)
{
    const auto* t = o.if_contains("type");
    return t && t->is_string() && t->get_string() == type;
}

// A tool_result block's `content`: a string, or text blocks whose texts are joined.
std::string tool_result_text(const boost::json::object& block)
{
    const auto* content = block.if_contains("content");
    if (!content)
        return {};
    if (const auto* s = content->if_string())
        return std::string(s->data(), s->size());
    std::string out;
    if (const auto* blocks = content->if_array()) {
        for (const auto& b : *blocks) {
            const auto* bo = b.if_object();
            const auto* text = bo ? bo->if_contains("text") : nullptr;
            if (text && text->is_string())
                out += std::string_view(text->get_string());
        }
    }
    return out;
}

// `tools[0].name`, when the request has it as a string.
std::optional<std::string> first_tool_name(const boost::json::object& o)
{
    const auto* tools = o.if_contains("tools");
    const auto* list = tools ? tools->if_array() : nullptr;
    const auto* tool = list && !list->empty() ? list->front().if_object() : nullptr;
    const auto* name = tool ? tool->if_contains("name") : nullptr;
    if (!name || !name->is_string())
        return std::nullopt;
    return std::string(name->get_string());
}

} // namespace

std::optional<chat_input> parse_messages_input(const boost::json::value& body)
{
    auto in = parse_chat_input(body);
    if (!in)
        return in;
    const auto& o = body.get_object();
    in->tool_name = first_tool_name(o).value_or("mock_tool");

    const auto& messages = o.at("messages").get_array();
    std::optional<std::string> last_result;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const auto* m = messages[i].if_object();
        const auto* content = m ? m->if_contains("content") : nullptr;
        const auto* blocks = content ? content->if_array() : nullptr;
        if (!blocks)
            continue;
        for (const auto& b : *blocks) {
            const auto* block = b.if_object();
            if (!block || !has_type(*block, "tool_result"))
                continue;
            auto text = tool_result_text(*block);
            in->prompt_chars += count_code_points(text);
            if (i + 1 == messages.size())
                last_result = std::move(text);
        }
    }
    if (last_result && in->last_role == "user") {
        in->last_role = "tool";
        in->last_content = std::move(*last_result);
    }
    return in;
}

std::string tool_use_id(std::uint64_t id)
{
    return "toolu_mock_" + std::to_string(id);
}

std::string anthropic_whole_answer(const plan& p, const chat_input& in, std::uint64_t id)
{
    // No stream, so nothing to cut short: the whole reply is the answer.
    plan whole = p;
    whole.stall_after.reset();
    whole.disconnect_after.reset();

    std::string content = "[";
    if (whole.reasoning > 0)
        content += R"({"type":"thinking","thinking":)" +
                   json_string(reasoning_text(whole.reasoning)) + R"(,"signature":"bW9jaw=="},)";
    std::size_t tokens = 0;
    if (whole.tool_call) {
        tokens = tool_call_arguments.size();
        std::string input;
        for (auto piece : tool_call_arguments)
            input += piece;
        content += tool_use_start(id, in) + input + "}";
    } else {
        tokens = planned_token_count(whole, in);
        std::string text;
        for (std::size_t i = 0; i < tokens; ++i)
            text += plain_token_text(whole, in, i);
        content += R"({"type":"text","text":)" + json_string(text) + "}";
    }
    content += "]";

    return R"({"id":"msg_mock-)" + std::to_string(id) +
           R"(","type":"message","role":"assistant","model":)" + in.model_json + R"(,"content":)" +
           content + R"(,"stop_reason":)" + json_string(stop_reason_of(whole)) +
           R"(,"stop_sequence":null,"usage":{"input_tokens":)" +
           std::to_string(prompt_tokens(in.prompt_chars)) + R"(,"output_tokens":)" +
           std::to_string(tokens) + "}}";
}

anthropic_writer::anthropic_writer(plan p, chat_input in, std::uint64_t id)
    : plan_(std::move(p)), in_(std::move(in)), id_(id), line_end_(line_end_text(plan_.lineend))
{
    total_ = plan_.tool_call ? planned_tool_call_pieces(plan_) : planned_token_count(plan_, in_);

    if (plan_.stall) {
        phase_ = phase::over;
        end_ = stream_end::stall;
    }
}

std::string anthropic_writer::event(std::string_view name, std::string_view data) const
{
    std::string s = "event: ";
    s += name;
    s += line_end_;
    s += "data: ";
    s += data;
    s += line_end_;
    s += line_end_;
    return s;
}

std::string anthropic_writer::token_text(std::size_t i) const
{
    return plain_token_text(plan_, in_, i);
}

std::string anthropic_writer::text_block_index() const
{
    return plan_.reasoning > 0 ? "1" : "0";
}

std::string anthropic_writer::stop_reason() const
{
    return stop_reason_of(plan_);
}

std::optional<sse_piece> anthropic_writer::next()
{
    const auto token_delay = plan_.huge ? std::chrono::milliseconds{0} : plan_.interval;

    switch (phase_) {
    case phase::start:
        phase_ = phase::ping;
        return sse_piece{
            {},
            event(
                "message_start",
                R"({"type":"message_start","message":{"id":"msg_mock-)" + std::to_string(id_) +
                    R"(","type":"message","role":"assistant","model":)" + in_.model_json +
                    R"(,"content":[],"stop_reason":null,"stop_sequence":null,)"
                    R"("usage":{"input_tokens":)" +
                    std::to_string(prompt_tokens(in_.prompt_chars)) + R"(,"output_tokens":1}}})"
            )};

    case phase::ping:
        phase_ = plan_.reasoning > 0 ? phase::thinking_start : phase::text_start;
        return sse_piece{{}, event("ping", R"({"type": "ping"})")};

    case phase::thinking_start:
        phase_ = phase::thinking;
        return sse_piece{
            {},
            event(
                "content_block_start",
                R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})"
            )};

    case phase::thinking: {
        const auto text = "r" + std::to_string(reasoning_sent_) + " ";
        if (++reasoning_sent_ == plan_.reasoning)
            phase_ = phase::thinking_stop;
        return sse_piece{
            token_delay,
            event(
                "content_block_delta",
                R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":)" +
                    json_string(text) + "}}"
            )};
    }

    case phase::thinking_stop:
        phase_ = phase::text_start;
        // Real streams end a thinking block with its signature; the relay ignores it.
        return sse_piece{
            {},
            event(
                "content_block_delta",
                R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"bW9jaw=="}})"
            ) + event("content_block_stop", R"({"type":"content_block_stop","index":0})")};

    case phase::text_start:
        phase_ = phase::text;
        if (plan_.tool_call)
            return sse_piece{
                {},
                event(
                    "content_block_start",
                    R"({"type":"content_block_start","index":)" + text_block_index() +
                        R"(,"content_block":)" + tool_use_start(id_, in_) + "{}}}"
                )};
        return sse_piece{
            {},
            event(
                "content_block_start",
                R"({"type":"content_block_start","index":)" + text_block_index() +
                    R"(,"content_block":{"type":"text","text":""}})"
            )};

    case phase::text:
        if ((plan_.malformed || plan_.error_event) && !extra_sent_ && (sent_ >= 1 || total_ == 0)) {
            extra_sent_ = true;
            phase_ = phase::over;
            end_ = stream_end::complete;
            return sse_piece{
                {},
                plan_.malformed
                    ? event("content_block_delta", "{not json")
                    : event(
                          "error",
                          R"({"type":"error","error":{"type":"overloaded_error","message":"mock stream error"}})"
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
            phase_ = phase::text_stop;
            return next();
        }
        if (plan_.tool_call) {
            const auto piece = tool_call_arguments[sent_];
            ++sent_;
            return sse_piece{
                token_delay,
                event(
                    "content_block_delta",
                    R"({"type":"content_block_delta","index":)" + text_block_index() +
                        R"(,"delta":{"type":"input_json_delta","partial_json":)" +
                        json_string(piece) + "}}"
                )};
        }
        {
            const auto text = token_text(sent_);
            ++sent_;
            return sse_piece{
                token_delay,
                event(
                    "content_block_delta",
                    R"({"type":"content_block_delta","index":)" + text_block_index() +
                        R"(,"delta":{"type":"text_delta","text":)" + json_string(text) + "}}"
                )};
        }

    case phase::text_stop:
        phase_ = phase::message_delta;
        return sse_piece{
            {},
            event(
                "content_block_stop",
                R"({"type":"content_block_stop","index":)" + text_block_index() + "}"
            )};

    case phase::message_delta:
        // `mock:no_done`: the stream stops short of message_delta and message_stop.
        if (plan_.no_done) {
            phase_ = phase::over;
            return std::nullopt;
        }
        phase_ = phase::message_stop;
        return sse_piece{
            {},
            event(
                "message_delta",
                R"({"type":"message_delta","delta":{"stop_reason":)" + json_string(stop_reason()) +
                    R"(,"stop_sequence":null},"usage":{"output_tokens":)" + std::to_string(sent_) +
                    "}}"
            )};

    case phase::message_stop:
        phase_ = phase::over;
        return sse_piece{{}, event("message_stop", R"({"type":"message_stop"})")};

    case phase::over:
        break;
    }
    return std::nullopt;
}

std::string anthropic_error_body(unsigned status, std::string_view message)
{
    std::string_view type = "api_error";
    switch (status) {
    case 400:
        type = "invalid_request_error";
        break;
    case 401:
        type = "authentication_error";
        break;
    case 403:
        type = "permission_error";
        break;
    case 404:
        type = "not_found_error";
        break;
    case 413:
        type = "request_too_large";
        break;
    case 429:
        type = "rate_limit_error";
        break;
    case 529:
        type = "overloaded_error";
        break;
    default:
        break;
    }
    return R"({"type":"error","error":{"type":)" + json_string(type) + R"(,"message":)" +
           json_string(message) + "}}";
}

} // namespace tokenrelay::mock
