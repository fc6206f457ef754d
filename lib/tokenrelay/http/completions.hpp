#pragma once
// `POST /v1/chat/completions` (PROTOCOL.md section 1): the OpenAI-compatible pass-through.
// One request on an HTTP/1.1 connection runs the loop's model source and answers SSE
// (`stream: true`) or one JSON body; a client that goes away cancels the upstream request.
// It shares the WebSocket door's limits (connections, --max-upstream-requests), accounting
// (usage, cost, /metrics, the generation_end log line) and drain (section 2, SIGTERM).

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/runtime/relay_state.hpp>

namespace tokenrelay::http_server {

/// Answers `request` (already read from `stream`, any method: others get 405). `buffer`
/// is the connection's read buffer: bytes a client pipelines while the answer streams
/// are kept there for the next request. Runs on `loop`'s executor, where the source
/// lives. Returns whether the connection may serve another request.
awaitable<bool> serve_completion(
    beast::tcp_stream& stream,
    beast::flat_buffer& buffer,
    const http::request<http::string_body>& request,
    runtime::relay_state& state,
    runtime::loop_context& loop
);

/// `GET /v1/models` (PROTOCOL.md section 9): the models a request may name, in OpenAI's
/// list format, behind the same client token and origin checks as completions. Only GET
/// and HEAD reach it. Returns whether the connection may serve another request.
awaitable<bool> serve_models(
    beast::tcp_stream& stream,
    const http::request<http::string_body>& request,
    const runtime::relay_state& state
);

} // namespace tokenrelay::http_server
