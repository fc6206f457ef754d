#pragma once
// Sans-I/O: what one chat-completions request asks the mock to do. The behaviour contract
// (the `mock:` words and their effects) is docs/mock_upstream.md; tests rely on it.

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::mock {

enum class line_end { lf, crlf, cr };

/// The behaviour chosen by the `mock:` directives of the last message.
struct plan
{
    std::size_t tokens = 8;
    std::chrono::milliseconds interval{0};
    std::optional<unsigned> status;
    std::optional<std::size_t> fail_first;
    unsigned fail_status = 429;
    std::size_t retry_after = 0;
    bool stall = false;
    std::optional<std::size_t> stall_after;
    bool never_answer = false;
    std::optional<std::size_t> disconnect_after;
    bool malformed = false;
    bool error_event = false;
    bool no_done = false;
    line_end lineend = line_end::lf;
    bool bytewise = false;
    std::size_t reasoning = 0;
    bool no_usage = false;
    bool usage_null_choices = false;
    bool parts = false;      // content and reasoning as Mistral's lists of parts
    bool groq_usage = false; // the usage counts in x_groq.usage, as Groq sends them
    bool refusal = false;    // the tokens as delta.refusal: the model declining
    std::string finish = "stop";
    /// Set by `mock:finish=REASON`: the reason then wins over `mock:tool_call`'s "tool_calls".
    bool finish_given = false;
    /// `mock:tool_call`: the assistant calls a function instead of answering in text.
    bool tool_call = false;
    bool echo = false;
    std::optional<std::size_t> huge;
    /// `mock:echo_key=N`: the reply echoes the request's bearer token in a 200 stream,
    /// as "key <token> end " cut into content tokens of N bytes.
    std::optional<std::size_t> echo_key;
    std::optional<std::size_t> nonewline;
    bool empty_deltas = false;
    bool comments = false;
    bool echo_auth_error = false;
    /// `mock:stamp`: each content token carries the mock's send time (`w<i>@<unix-micros> `)
    /// so a load generator can measure the relay's per-token latency end to end.
    bool stamp = false;
    /// `mock:linger=MS`: after the last event, wait MS before ending the response body.
    std::chrono::milliseconds linger{0};
    /// `mock:` words that were not understood (unknown name or bad value); kept for logs.
    std::vector<std::string> ignored;
};

/// Applies every whitespace-separated `mock:` word of `content` to `defaults`. Other words
/// are ordinary text; a later directive overrides an earlier one of the same name.
plan parse_directives(std::string_view content, plan defaults = {});

/// What the mock needs from a request body.
struct chat_input
{
    /// The request's `model` value, serialised; echoed into every chunk.
    std::string model_json = "\"mock\"";
    /// Compact serialisation of `messages` (the `mock:echo` reply).
    std::string messages_json = "[]";
    /// Text content of the last message: where directives are read.
    std::string last_content;
    /// Characters (Unicode code points) of all message contents, for `prompt_tokens`.
    std::size_t prompt_chars = 0;
    /// The bearer token of the request's Authorization header (`mock:echo_key`).
    std::string bearer_token;
    /// The request's top-level `stream` is `true`: answer with an SSE stream, else with one
    /// whole JSON answer.
    bool stream = false;
    /// The request's top-level `logprobs` is `true`: content tokens carry log-probabilities.
    bool logprobs = false;
    /// `role` of the last message ("" when it has none). A last message with role "tool"
    /// is a tool result: the reply is `tool result: <its text>`.
    std::string last_role;
    /// The function `mock:tool_call` calls: the request's `tools[0].function.name`, or
    /// "mock_tool" when it has none.
    std::string tool_name = "mock_tool";
};

/// Reads a parsed chat-completions body; nullopt when it is not an object with a
/// `messages` array. A `content` may be a string, null, absent, or an array of
/// `{"text": ...}` parts (OpenAI's multi-part form), whose texts are joined; anything else
/// (and a message that is not an object) counts as empty text. Any role is accepted.
std::optional<chat_input> parse_chat_input(const boost::json::value& body);

/// `prompt_tokens` as the contract defines it: characters / 4, at least 1.
std::size_t prompt_tokens(std::size_t prompt_chars) noexcept;

} // namespace tokenrelay::mock
