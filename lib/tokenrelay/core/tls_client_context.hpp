#pragma once
// The TLS client context for HTTPS upstreams and rediss:// stores (PROTOCOL.md sections 6
// and 8: certificates verified against the system store or a given CA file).
//
// Each event loop makes its own, so no certificate store is shared between threads: a
// store loads the system CA directory lazily during handshakes, and ThreadSanitizer sees
// those loads race with another thread's lookups in the same store.

#include <tokenrelay/core/net.hpp>

#include <memory>
#include <string>

namespace tokenrelay {

/// A TLS 1.2+ client context that verifies the peer against the system default paths,
/// plus the certificates in `extra_ca_file` when it is not empty (`--upstream-ca`,
/// `--store-ca`).
/// Throws std::runtime_error naming the file when it cannot be loaded: a start-up error.
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& extra_ca_file);

} // namespace tokenrelay
