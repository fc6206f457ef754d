#pragma once
// The TLS client context for HTTPS upstreams (PROTOCOL.md section 6: certificates
// verified against the system store or a given CA file).

#include <tokenrelay/core/net.hpp>

#include <memory>
#include <string>

namespace tokenrelay::upstream {

/// A TLS 1.2+ client context that verifies the peer against the system default paths,
/// plus the certificates in `extra_ca_file` when it is not empty (`--upstream-ca`).
/// Throws std::runtime_error naming the file when it cannot be loaded: a start-up error.
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& extra_ca_file);

} // namespace tokenrelay::upstream
