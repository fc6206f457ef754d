// Fuzzes request-target resolution (lib/tokenrelay/files/static_path.hpp). Whatever the
// target, an accepted path must stay inside the static directory (PROTOCOL.md section 1):
// relative, no ".." segment nor any other that starts with a dot (a dotfile), no
// backslash, no NUL. It must also be canonical (no empty or "." segment) and stable:
// asking for it again, fully percent-encoded, gives it back.
// The If-None-Match and MIME helpers get the same input for crash-freedom.
#include <tokenrelay/files/static_path.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace tokenrelay::files;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "static_path_fuzz: %s\n", what);
        std::abort();
    }
}

// Every byte but unreserved ones and '/' as %XX, so the second decode sees exactly the
// bytes of `path` and nothing in it can act as '?', '#' or '%'.
std::string encode(std::string_view path)
{
    constexpr char hex[] = "0123456789ABCDEF";
    std::string out = "/";
    for (const char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~' || c == '/';
        if (plain) {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    return out;
}

void check_path(std::string_view path)
{
    check(!path.empty(), "empty path accepted");
    check(path.front() != '/', "absolute path accepted");
    check(path.find('\\') == std::string_view::npos, "backslash accepted");
    check(path.find('\0') == std::string_view::npos, "NUL accepted");
    check(path.back() != '/', "directory path without index.html");
    std::string_view rest = path;
    for (;;) {
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        check(segment != "." && !segment.empty(), "non-canonical segment");
        check(segment.front() != '.', "\"..\" or a dotfile accepted");
        if (slash == std::string_view::npos)
            break;
        rest.remove_prefix(slash + 1);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    const std::string_view target(reinterpret_cast<const char*>(bytes), size);

    if (const auto path = resolve_target(target)) {
        check_path(*path);
        const auto again = resolve_target(encode(*path));
        check(again.has_value(), "an accepted path, encoded, is refused");
        check(*again == *path, "an accepted path, encoded, resolves elsewhere");
        check(!mime_type(*path).empty(), "no MIME type");
    }

    const std::string etag = make_etag(size, static_cast<std::int64_t>(size) * 7919);
    (void)etag_matches(target, etag);
    // A list holding the exact tag always matches, whatever precedes it.
    if (target.find('"') == std::string_view::npos)
        check(etag_matches(std::string(target) + "," + etag, etag), "listed ETag not matched");
    return 0;
}
