#pragma once
// Sans-I/O: the one JSON answer to a chat-completions request that did not ask for a stream
// (`"stream"` false, null or absent), as OpenAI's `chat.completion` object. It carries what
// the stream would have carried, in one body written when the stream would have ended.

#include <chrono>
#include <cstdint>
#include <string>
#include <testing/mock/directives.hpp>

namespace tokenrelay::mock {

/// The `chat.completion` body for request number `id` (`"id":"mock-<id>"`), `created` the
/// Unix time in seconds: the concatenated content tokens (or the refusal, or the tool call),
/// finish_reason, logprobs and usage as the stream would have them. Stream-only directives
/// (stall_after, disconnect_after, parts, groq_usage, stamp and the like) do not apply.
std::string
whole_answer(const plan& p, const chat_input& in, std::uint64_t id, std::int64_t created);

/// How long the whole answer waits before it is written: the delays the stream would have
/// spent, `mock:interval` before each reasoning event and content token (or tool-call argument
/// piece); none with `mock:huge`. At most std::numeric_limits<int>::max() milliseconds.
std::chrono::milliseconds whole_answer_delay(const plan& p, const chat_input& in);

} // namespace tokenrelay::mock
