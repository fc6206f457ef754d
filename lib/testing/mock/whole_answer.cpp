#include <limits>
#include <testing/mock/stream_writer.hpp>
#include <testing/mock/whole_answer.hpp>

namespace tokenrelay::mock {
namespace {

// No stream, so nothing to cut short: the whole reply is the answer.
plan uncut(plan p)
{
    p.stall_after.reset();
    p.disconnect_after.reset();
    return p;
}

std::size_t completion_tokens(const plan& whole, const chat_input& in)
{
    return whole.tool_call ? tool_call_arguments.size() : planned_token_count(whole, in);
}

} // namespace

std::string
whole_answer(const plan& p, const chat_input& in, std::uint64_t id, std::int64_t created)
{
    const plan whole = uncut(p);
    const auto tokens = completion_tokens(whole, in);
    std::string message = R"({"role":"assistant",)";
    std::string logprobs;
    if (whole.tool_call) {
        message += R"("content":null)";
    } else {
        std::string text;
        for (std::size_t i = 0; i < tokens; ++i) {
            const auto token = plain_token_text(whole, in, i);
            if (in.logprobs && !whole.refusal) {
                if (!logprobs.empty())
                    logprobs += ',';
                logprobs += logprob_entry(token);
            }
            text += token;
        }
        message += whole.refusal ? R"("content":null,"refusal":)" : R"("content":)";
        message += json_string(text);
    }
    if (whole.reasoning > 0) {
        std::string reasoning;
        for (std::size_t i = 0; i < whole.reasoning; ++i)
            reasoning += "r" + std::to_string(i) + " ";
        message += R"(,"reasoning_content":)" + json_string(reasoning);
    }
    if (whole.tool_call) {
        std::string arguments;
        for (auto piece : tool_call_arguments)
            arguments += piece;
        message += R"(,"tool_calls":[{"id":)" + json_string(tool_call_id(id)) +
                   R"(,"type":"function","function":{"name":)" + json_string(in.tool_name) +
                   R"(,"arguments":)" + json_string(arguments) + "}}]";
    }
    message += '}';

    std::string out = R"({"id":"mock-)" + std::to_string(id) +
                      R"(","object":"chat.completion","created":)" + std::to_string(created) +
                      R"(,"model":)" + in.model_json + R"(,"choices":[{"index":0,"message":)" +
                      message + R"(,"logprobs":)" +
                      (in.logprobs ? R"({"content":[)" + logprobs + "]}" : std::string("null")) +
                      R"(,"finish_reason":)" + json_string(finish_reason(whole)) + "}]";
    if (!whole.no_usage) {
        const auto prompt = prompt_tokens(in.prompt_chars);
        out += R"(,"usage":{"prompt_tokens":)" + std::to_string(prompt) +
               R"(,"completion_tokens":)" + std::to_string(tokens) + R"(,"total_tokens":)" +
               std::to_string(prompt + tokens) + "}";
    }
    out += '}';
    return out;
}

std::chrono::milliseconds whole_answer_delay(const plan& p, const chat_input& in)
{
    const auto interval = static_cast<std::uint64_t>(p.interval.count());
    if (p.huge || interval == 0)
        return std::chrono::milliseconds{0};
    const plan whole = uncut(p);
    const std::uint64_t cap = std::numeric_limits<int>::max();
    const auto events = static_cast<std::uint64_t>(whole.reasoning) + completion_tokens(whole, in);
    const auto total = events > cap / interval ? cap : events * interval;
    return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

} // namespace tokenrelay::mock
