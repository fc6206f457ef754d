#pragma once
// GET /metrics (PROTOCOL.md section 1): the Prometheus exposition, behind
// `Authorization: Bearer` when --metrics-token is set (section 7).

#include <tokenrelay/http/responses.hpp>
#include <tokenrelay/runtime/relay_state.hpp>

namespace tokenrelay::http_server {

/// The exposition of `state`, or 401 with `WWW-Authenticate: Bearer` when a metrics token
/// is configured and `request` does not carry it.
response metrics_response(
    const runtime::relay_state& state, const http::request<http::string_body>& request
);

} // namespace tokenrelay::http_server
