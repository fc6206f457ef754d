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

} // namespace

anthropic_writer::anthropic_writer(plan p, chat_input in, std::uint64_t id)
    : plan_(std::move(p)), in_(std::move(in)), id_(id), line_end_(line_end_text(plan_.lineend))
{
    total_ = planned_token_count(plan_, in_);

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
                R"({"type":"message_delta","delta":{"stop_reason":)" +
                    json_string(stop_reason_of(plan_.finish)) +
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
