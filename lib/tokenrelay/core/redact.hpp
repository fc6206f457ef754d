#pragma once

#include <string>
#include <string_view>

namespace tokenrelay {

/// Text with every occurrence of `secret` replaced by "[redacted]". An empty secret
/// changes nothing. Used on upstream error bodies, which some servers echo the key into.
std::string redact(std::string_view text, std::string_view secret);

} // namespace tokenrelay
