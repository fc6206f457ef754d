#pragma once
// The one place where a model source's exception becomes a stream end, for both doors
// (the WebSocket session and /v1/chat/completions).

#include <tokenrelay/upstream/model_source.hpp>

#include <string>

namespace tokenrelay::upstream {

/// Runs `source.stream()`. A source that throws, rather than reporting `failed`, still
/// ends the stream with exactly one `failed` event (upstream_error, "upstream request
/// failed"; what it threw goes to the log only). Cancellation is the one exception that
/// passes through. `session` names the session in the log line; empty for none.
awaitable<void>
stream_guarded(model_source& source, chat_request request, event_channel& out, std::string session);

} // namespace tokenrelay::upstream
