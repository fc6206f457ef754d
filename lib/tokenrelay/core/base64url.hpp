#pragma once
// base64url without padding (RFC 4648 section 5): URL- and key-safe text for random or
// hashed bytes.

#include <span>
#include <string>

namespace tokenrelay {

std::string base64url(std::span<const unsigned char> bytes);

} // namespace tokenrelay
