#pragma once
// Who may open a WebSocket (PROTOCOL.md section 7: --client-token, --allowed-origin).
// Sans-I/O: header values in, a verdict out.

#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::http_server {

enum class upgrade_verdict { allowed, unauthorized, forbidden_origin };

struct upgrade_credentials
{
    std::string_view authorization; // the Authorization header, may be empty
    std::string_view query_token;   // `?token=` from the request target, may be empty
    std::string_view origin;        // the Origin header; empty for non-browser clients
    std::string_view host;          // the Host header
};

/// With a client token configured, the request must carry it as a Bearer token or in
/// the query (compared in constant time). A browser request (one with an Origin) must
/// come from an allowed origin; with none configured, only the relay's own origin (the
/// Host it was reached at, over http or https) is allowed.
upgrade_verdict check_upgrade(
    const upgrade_credentials& request,
    const std::string& client_token,
    const std::vector<std::string>& allowed_origins
);

} // namespace tokenrelay::http_server
