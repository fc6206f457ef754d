#pragma once
// JSON string text, written straight into a string: frames to clients and request bodies
// to the upstream are built without a JSON DOM (issue 7). Sans-I/O.

#include <string>
#include <string_view>

namespace tokenrelay {

/// Appends `s` as a quoted JSON string. Invalid UTF-8 sequences become U+FFFD, so the
/// result is always valid JSON (and a valid WebSocket text message).
void append_json_string(std::string& out, std::string_view s);

} // namespace tokenrelay
