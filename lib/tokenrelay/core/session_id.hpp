#pragma once
// Session ids are bearer secrets (PROTOCOL.md section 3): 128 bits from a CSPRNG,
// URL-safe, compared in constant time and never logged whole.

#include <string>
#include <string_view>

namespace tokenrelay {

/// 16 bytes from OpenSSL's CSPRNG, base64url without padding (22 characters).
std::string make_session_id();

/// Constant-time comparison (CRYPTO_memcmp); unequal lengths return false at once,
/// which reveals only the length.
bool session_id_equal(std::string_view a, std::string_view b) noexcept;

/// The first characters of an id, safe for logs.
std::string short_session_id(std::string_view id);

} // namespace tokenrelay
