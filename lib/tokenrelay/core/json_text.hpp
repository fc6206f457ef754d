#pragma once
// JSON string text, written straight into a string: frames to clients and request bodies
// to the upstream are built without a JSON DOM. Sans-I/O.

#include <string>
#include <string_view>

namespace tokenrelay {

/// Appends `s` as a quoted JSON string. Invalid UTF-8 sequences become U+FFFD, so the
/// result is always valid JSON (and a valid WebSocket text message).
void append_json_string(std::string& out, std::string_view s);

/// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code
/// points above U+10FFFF), as a WebSocket text message must be.
bool is_valid_utf8(std::string_view s) noexcept;

} // namespace tokenrelay
