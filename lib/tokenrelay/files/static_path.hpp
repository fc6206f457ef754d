#pragma once
// Maps a request target to a file under the static directory (PROTOCOL.md section 1).
// Sans-I/O apart from the final realpath check.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::files {

/// The relative path inside the static root that `target` names, or nullopt when the
/// target must be answered 404: `..` segments (also percent-encoded, `%2e%2e`, `%2f`),
/// any other segment starting with a dot (`.env`, `.git/`: files a static directory holds
/// by accident, never the page's), NUL bytes, backslashes, bad percent-encoding. A `.`
/// segment names no file and is skipped. "/" maps to "index.html"; the query string is
/// ignored.
std::optional<std::string> resolve_target(std::string_view target);

/// The absolute path of `relative` under `root` after resolving symlinks, or nullopt
/// when it does not exist, is not a regular file, resolves outside `root` (a symlink
/// escaping the directory), or resolves to a dotfile or into a dot directory under it.
std::optional<std::string> resolve_file(const std::string& root, const std::string& relative);

/// Content-Type for a file name by extension ("text/html; charset=utf-8", ...);
/// "application/octet-stream" for unknown ones.
std::string_view mime_type(std::string_view path);

/// A strong ETag from the file's size and modification time, quoted, e.g. "\"1a2b-5f3c\"".
std::string make_etag(std::uintmax_t size, std::int64_t mtime_ns);

/// Whether an If-None-Match header value matches `etag` (handles lists and `*`).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

} // namespace tokenrelay::files
