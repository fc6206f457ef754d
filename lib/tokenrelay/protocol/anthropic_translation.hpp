#pragma once
// The OpenAI-compatible HTTP API in front of an Anthropic Messages API upstream
// (PROTOCOL.md section 9, `--upstream-format anthropic`): the chat-completions body
// rebuilt as a Messages request, and the Messages answer, streamed or whole, rebuilt as
// chat-completion chunks or a chat-completion body. What has no equivalent is refused,
// naming it, never dropped. Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/protocol/completion_chunks.hpp>

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tokenrelay::protocol {

/// Anthropic requires `max_tokens`: this many when the client set no limit.
inline constexpr std::int64_t anthropic_default_max_tokens = 4096;

/// Why a request (or an upstream answer) cannot be translated.
struct translation_error
{
    std::string param;   // the offending field's path ("tools[1].type"), "" for an answer
    std::string message; // names the field and says why
};

/// The Messages API body for an OpenAI chat-completions body that the policy already
/// accepted (parse_completion_request): `model` is the resolved model, and
/// `default_max_tokens` is sent when the client set no limit (Anthropic requires one).
/// system and developer turns become the top-level `system`; tool turns become
/// `tool_result` blocks, consecutive ones (and a user turn right after them) in one user
/// turn; tools, tool_choice, stop, user and images are translated. Top-level nulls count
/// as absent, as do nulls inside messages. Any other field, and any field not at the one
/// value Anthropic implies (`n: 1`, `logprobs: false`, zero penalties), is an error.
std::variant<std::string, translation_error> anthropic_request_body(
    const boost::json::object& openai_body, std::string_view model, std::int64_t default_max_tokens
);

/// OpenAI's finish reason for an Anthropic stop reason; unknown ones pass through.
std::string_view openai_finish_reason(std::string_view stop_reason);

/// Turns one Anthropic stream, event by event, into `chat.completion.chunk` objects.
/// One translator per response.
///
/// message_start: the role chunk; text_delta: `delta.content`; thinking_delta:
/// `delta.reasoning_content`; a tool_use block: `delta.tool_calls` with the call's id and
/// name, then its input_json_delta pieces as `arguments`, the call's `index` counting the
/// message's tool_use blocks from 0 (a call whose input was never streamed gets the
/// block's start `input`, "{}", at content_block_stop: "" would not parse as JSON);
/// message_delta: the finish chunk; message_stop: the usage chunk (`choices: []`), when
/// the upstream reported usage. ping, signature deltas, redacted thinking, block types the
/// relay never asks for and unknown event types produce nothing.
class anthropic_stream_translator
{
public:
    explicit anthropic_stream_translator(completion_meta meta);

    /// One event: `event_type` is the SSE event name ("message" or "" when there was no
    /// `event:` line: the data's own `type` decides). Appends each chunk's JSON (what goes
    /// after `data: `) to `chunks`. Returns false, with why(), for data that is not a
    /// JSON object or has a wrongly typed member the translation needs. An `error` event
    /// returns true and sets error_message().
    bool feed(std::string_view event_type, std::string_view data, std::vector<std::string>& chunks);

    std::string_view why() const noexcept { return why_; }
    /// The upstream's `error` event: "<error type>: <message>"; empty when none came.
    std::string_view error_message() const noexcept { return error_message_; }
    /// The error event's `error.type` ("overloaded_error", ...), for choosing a code.
    std::string_view error_type() const noexcept { return error_type_; }
    /// The OpenAI finish reason of message_delta; empty before it.
    std::string_view finish_reason() const noexcept { return finish_reason_; }
    /// Prompt tokens (cache writes and reads included) and completion tokens, once
    /// message_start or message_delta reported any.
    std::optional<token_usage> usage() const;
    /// message_stop came: the answer is complete.
    bool done() const noexcept { return done_; }

private:
    struct tool_block
    {
        std::int64_t block = 0;      // Anthropic's content block index
        std::size_t call = 0;        // the OpenAI tool call index
        std::string start_input;     // content_block_start's `input`, serialised
        bool sent_arguments = false; // some of its arguments went out
    };

    bool
    on_event(std::string_view type, const boost::json::object& o, std::vector<std::string>& chunks);
    bool on_message_start(const boost::json::object& o, std::vector<std::string>& chunks);
    bool on_block_start(const boost::json::object& o, std::vector<std::string>& chunks);
    bool on_block_delta(const boost::json::object& o, std::vector<std::string>& chunks);
    bool on_block_stop(const boost::json::object& o, std::vector<std::string>& chunks);
    bool on_message_delta(const boost::json::object& o, std::vector<std::string>& chunks);
    void on_message_stop(std::vector<std::string>& chunks);
    void on_error(const boost::json::object& o);
    bool read_usage(const boost::json::value* usage, std::string_view where);
    tool_block* tool_at(std::int64_t block);
    std::string chunk(std::string_view delta, std::string_view finish_reason) const;
    bool fail(std::string why);

    std::string envelope_; // `{"id":…,"object":…,"created":…,"model":…`, shared by every chunk
    std::vector<tool_block> tools_;
    std::int64_t input_tokens_ = 0;
    std::int64_t cache_creation_tokens_ = 0;
    std::int64_t cache_read_tokens_ = 0;
    std::int64_t output_tokens_ = 0;
    bool usage_seen_ = false;
    bool done_ = false;
    std::string finish_reason_;
    std::string error_message_;
    std::string error_type_;
    std::string why_;
};

/// The `chat.completion` body for a whole Anthropic Messages answer (`stream: false`):
/// text blocks joined as `content` (null when none), thinking as `reasoning_content`,
/// tool_use blocks as `tool_calls`, the stop reason and usage mapped. An Anthropic error
/// body, or anything that is not a message, is an error (with an empty param).
std::variant<std::string, translation_error> openai_completion_from_anthropic(
    std::string_view anthropic_message_json, const completion_meta& meta
);

} // namespace tokenrelay::protocol
