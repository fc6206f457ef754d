// A 2xx answer to a forwarded request without `stream` (PROTOCOL.md section 9): one JSON
// body, read whole (bounded), read for the reply's end and usage, and handed on as it
// came but for the key.

#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/redact.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/protocol/anthropic_translation.hpp>
#include <tokenrelay/upstream/attempt.hpp>

#include <boost/json/parse.hpp>

#include <vector>

namespace tokenrelay::upstream::detail {
namespace {

// A completion with logprobs and several choices runs to some MiB; more is not an answer.
constexpr std::size_t max_answer_bytes = 32u << 20;

std::int64_t count_of(const boost::json::object& usage, std::string_view key)
{
    const auto* v = usage.if_contains(key);
    return v && v->is_int64() ? v->get_int64() : 0;
}

/// The finished event of a chat.completion body, or nullopt when the body is not one.
/// Only choices[0] is accounted, as in a stream.
std::optional<stream_event> read_end(std::string_view body, std::uint32_t& delta_bytes)
{
    error_code ec;
    const auto jv = boost::json::parse(body, ec);
    const auto* o = ec ? nullptr : jv.if_object();
    if (!o)
        return std::nullopt;
    std::string finish_reason = "stop";
    std::size_t text = 0;
    const auto* choices = o->if_contains("choices");
    const auto* list = choices ? choices->if_array() : nullptr;
    if (list && !list->empty()) {
        if (const auto* choice = list->front().if_object()) {
            if (const auto* r = choice->if_contains("finish_reason"); r && r->is_string())
                finish_reason = std::string(r->get_string());
            const auto* message = choice->if_contains("message");
            if (const auto* m = message ? message->if_object() : nullptr)
                for (const char* key : {"content", "reasoning_content", "refusal"})
                    if (const auto* t = m->if_contains(key); t && t->is_string())
                        text += t->get_string().size();
        }
    }
    std::optional<token_usage> usage;
    if (const auto* u = o->if_contains("usage"); u && u->is_object())
        usage = token_usage{
            count_of(u->get_object(), "prompt_tokens"),
            count_of(u->get_object(), "completion_tokens")};
    delta_bytes = static_cast<std::uint32_t>(std::min<std::size_t>(text, UINT32_MAX));
    return stream_event::finished(std::move(finish_reason), usage);
}

} // namespace

template <class Stream>
awaitable<attempt_result>
read_whole_reply(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    const int status = parser.get().result_int();
    std::string body;
    std::vector<char> buf(64 * 1024);
    error_code read_ec;
    while (!parser.is_done() && body.size() < max_answer_bytes) {
        parser.get().body().data = buf.data();
        parser.get().body().size = buf.size();
        auto [ec, n] = co_await http::async_read_some(stream, conn.buffer(), parser, use_tuple);
        body.append(buf.data(), buf.size() - parser.get().body().size);
        if (ec && ec != http::error::need_buffer) {
            read_ec = ec;
            break;
        }
    }
    if (read_ec && timed_out(read_ec, c))
        co_return timeout_failure(c, status);
    if (!parser.is_done()) {
        co_return failure(
            verdict::fail,
            errc::upstream_error,
            read_ec ? "upstream connection lost: " + describe(read_ec)
                    : "upstream answer larger than " + std::to_string(max_answer_bytes) + " bytes",
            status,
            c
        );
    }
    if (c.options.format == api_format::anthropic) {
        auto translated = protocol::openai_completion_from_anthropic(
            body,
            protocol::completion_meta{"chatcmpl-" + make_session_id(), now_ms() / 1000, c.model}
        );
        if (auto* err = std::get_if<protocol::translation_error>(&translated))
            co_return failure(
                verdict::fail, errc::upstream_error, "upstream answer: " + err->message, status, c
            );
        body = std::move(std::get<std::string>(translated));
    }
    stream_event answer;
    answer.type = stream_event::kind::chunk;
    auto end = read_end(body, answer.delta_bytes);
    if (!end)
        co_return failure(
            verdict::fail, errc::upstream_error, "upstream answer is not a JSON object", status, c
        );
    c.token_sent = true;
    answer.text = redact(body, c.options.api_key);
    co_await send_event(c, std::move(answer));
    co_await send_event(c, std::move(*end));
    attempt_result r;
    r.kind = verdict::done;
    r.reusable = parser.get().keep_alive();
    co_return r;
}

template awaitable<attempt_result>
read_whole_reply(beast::tcp_stream&, connection&, response_parser&, call_state&);
template awaitable<attempt_result>
read_whole_reply(tls_stream&, connection&, response_parser&, call_state&);

} // namespace tokenrelay::upstream::detail
