// Anthropic Messages API streaming events (https://docs.anthropic.com/en/api/messages-streaming):
// message_start, content_block_start/delta/stop, message_delta, message_stop, ping, error.
#include <tokenrelay/sse/anthropic_decoder.hpp>
#include <tokenrelay/sse/json_fields.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace tokenrelay::sse {

namespace json = boost::json;

namespace {

using detail::json_field;
using detail::read_count;
using detail::read_string;

// Anthropic's stop reasons as OpenAI's finish reasons (PROTOCOL.md section 6); others
// pass through, and the end reason of section 2 makes them a stop.
std::string finish_reason_of(std::string_view stop_reason)
{
    if (stop_reason == "end_turn" || stop_reason == "stop_sequence")
        return "stop";
    if (stop_reason == "max_tokens")
        return "length";
    if (stop_reason == "tool_use")
        return "tool_calls";
    if (stop_reason == "refusal")
        return "content_filter";
    return std::string(stop_reason);
}

} // namespace

bool anthropic_decoder::decode(std::string_view type, std::string_view data, openai_chunk& out)
{
    out.clear();
    why_.clear();

    // ping carries `{"type":"ping"}`; nothing in it matters, so it is not even parsed.
    if (type == "ping")
        return true;

    boost::system::error_code ec;
    auto const root = json::parse(data, ec);
    if (ec)
        return fail("malformed JSON in stream event: " + ec.message());
    auto const* o = root.if_object();
    if (o == nullptr)
        return fail("stream event is not a JSON object");

    std::string own_type;
    if (type == "message") {
        if (read_string(*o, "type", own_type) == json_field::wrong_type)
            return fail("type is not a string");
        type = own_type;
    }
    return decode_object(type, *o, out);
}

bool anthropic_decoder::decode_object(
    std::string_view type, json::object const& o, openai_chunk& out
)
{
    if (type == "error") {
        out.is_error = true;
        auto const* e = o.if_contains("error");
        auto const* eo = e == nullptr ? nullptr : e->if_object();
        std::string kind;
        std::string message;
        if (eo != nullptr) {
            read_string(*eo, "type", kind);
            read_string(*eo, "message", message);
        }
        if (message.empty())
            out.error_message = e == nullptr ? json::serialize(o) : json::serialize(*e);
        else if (kind.empty())
            out.error_message = std::move(message);
        else
            out.error_message = kind + ": " + message;
        return true;
    }
    if (type == "message_start") {
        auto const* m = o.if_contains("message");
        if (m == nullptr || !m->is_object())
            return fail("message_start without a message object");
        if (!read_usage(m->get_object().if_contains("usage"), "message.usage"))
            return false;
        return true;
    }
    if (type == "content_block_delta")
        return decode_delta(o, out);
    if (type == "message_delta") {
        if (auto const* d = o.if_contains("delta"); d != nullptr && !d->is_null()) {
            auto const* delta = d->if_object();
            if (delta == nullptr)
                return fail("message_delta.delta is not an object");
            std::string stop_reason;
            if (read_string(*delta, "stop_reason", stop_reason) == json_field::wrong_type)
                return fail("delta.stop_reason is not a string");
            if (!stop_reason.empty())
                out.finish_reason = finish_reason_of(stop_reason);
        }
        if (!read_usage(o.if_contains("usage"), "usage"))
            return false;
        out.usage = token_usage{input_tokens_, output_tokens_};
        return true;
    }
    if (type == "message_stop") {
        out.done = true;
        out.usage = token_usage{input_tokens_, output_tokens_};
        return true;
    }
    return true;
}

bool anthropic_decoder::decode_delta(json::object const& o, openai_chunk& out)
{
    auto const* d = o.if_contains("delta");
    auto const* delta = d == nullptr ? nullptr : d->if_object();
    if (delta == nullptr)
        return fail("content_block_delta without a delta object");
    std::string kind;
    if (read_string(*delta, "type", kind) != json_field::ok)
        return fail("content_block_delta.delta.type is not a string");
    if (kind == "text_delta") {
        if (read_string(*delta, "text", out.content) != json_field::ok)
            return fail("text_delta.text is not a string");
    } else if (kind == "thinking_delta") {
        if (read_string(*delta, "thinking", out.reasoning) != json_field::ok)
            return fail("thinking_delta.thinking is not a string");
    }
    // signature_delta and input_json_delta carry nothing the relay shows.
    return true;
}

bool anthropic_decoder::read_usage(json::value const* usage, std::string_view where)
{
    if (usage == nullptr || usage->is_null())
        return true;
    auto const* u = usage->if_object();
    if (u == nullptr)
        return fail(std::string(where) + " is not an object");
    if (read_count(*u, "input_tokens", input_tokens_) == json_field::wrong_type)
        return fail(std::string(where) + ".input_tokens is not a non-negative integer");
    if (read_count(*u, "output_tokens", output_tokens_) == json_field::wrong_type)
        return fail(std::string(where) + ".output_tokens is not a non-negative integer");
    return true;
}

bool anthropic_decoder::fail(std::string_view why)
{
    why_.assign(why);
    return false;
}

} // namespace tokenrelay::sse
