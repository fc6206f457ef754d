#include <tokenrelay/core/http_text.hpp>
#include <tokenrelay/files/static_path.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <vector>

namespace tokenrelay::files {
namespace {

namespace fs = std::filesystem;

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Exactly one round of decoding (RFC 3986 section 2.4): "%252e" stays "%2e", a literal
// name, never a second chance at "..".
std::optional<std::string> percent_decode(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size())
            return std::nullopt;
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

// Weak comparison (RFC 9110 section 8.8.3.2), the one If-None-Match uses: only the
// opaque tags must match.
std::string_view opaque_tag(std::string_view tag)
{
    if (tag.substr(0, 2) == "W/")
        tag.remove_prefix(2);
    return tag;
}

} // namespace

std::optional<std::string> resolve_target(std::string_view target)
{
    target = target.substr(0, target.find_first_of("?#"));
    if (target.empty() || target.front() != '/')
        return std::nullopt;
    auto decoded = percent_decode(target);
    if (!decoded)
        return std::nullopt;
    if (decoded->find('\0') != std::string::npos || decoded->find('\\') != std::string::npos)
        return std::nullopt;

    // Segments are taken after decoding, so an encoded "%2f" separates like "/" and
    // "..%2f" is caught as "..".
    std::vector<std::string_view> segments;
    bool directory = true; // the path names a directory: "/", "/a/", "/a/."
    std::string_view rest = *decoded;
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (seg.empty() || seg == ".") {
            directory = true;
            continue;
        }
        if (seg.front() == '.')
            return std::nullopt; // "..", and the dotfiles
        segments.push_back(seg);
        directory = slash != std::string_view::npos;
    }

    std::string out;
    for (const auto seg : segments) {
        out += seg;
        out += '/';
    }
    if (directory)
        out += "index.html";
    else
        out.pop_back();
    return out;
}

std::optional<std::string> resolve_file(const std::string& root, const std::string& relative)
{
    if (relative.empty() || fs::path(relative).is_absolute())
        return std::nullopt;
    std::error_code ec;
    const fs::path base = fs::canonical(root, ec);
    if (ec)
        return std::nullopt;
    // canonical() follows every symlink, so what is checked is where the bytes really are.
    const fs::path file = fs::canonical(base / relative, ec);
    if (ec)
        return std::nullopt;
    if (!fs::is_regular_file(file, ec) || ec)
        return std::nullopt;
    const auto [root_end, file_it] =
        std::mismatch(base.begin(), base.end(), file.begin(), file.end());
    if (root_end != base.end() || file_it == file.end())
        return std::nullopt;
    // A symlink with a plain name may lead to a dotfile that resolve_target() refuses.
    if (std::any_of(file_it, file.end(), [](const fs::path& p) {
            return p.native().starts_with('.');
        }))
        return std::nullopt;
    return file.string();
}

std::string_view mime_type(std::string_view path)
{
    const auto slash = path.find_last_of('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const auto dot = name.find_last_of('.');
    if (dot == std::string_view::npos)
        return "application/octet-stream";
    const std::string_view ext = name.substr(dot + 1);

    struct entry
    {
        std::string_view ext;
        std::string_view type;
    };
    // Text types carry the charset so browsers do not guess; JSON and source maps are
    // UTF-8 by definition (RFC 8259), wasm needs its own type for streaming compilation.
    static constexpr std::array<entry, 18> table{{
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"wasm", "application/wasm"},
    }};
    for (const auto& e : table) {
        if (iequals(e.ext, ext))
            return e.type;
    }
    return "application/octet-stream";
}

std::string make_etag(std::uintmax_t size, std::int64_t mtime_ns)
{
    char buf[48];
    char* p = buf;
    *p++ = '"';
    p = std::to_chars(p, buf + sizeof buf, size, 16).ptr;
    *p++ = '-';
    p = std::to_chars(p, buf + sizeof buf, static_cast<std::uint64_t>(mtime_ns), 16).ptr;
    *p++ = '"';
    return std::string(buf, p);
}

bool etag_matches(std::string_view if_none_match, std::string_view etag)
{
    const std::string_view want = opaque_tag(etag);
    std::string_view rest = if_none_match;
    // Parsed tag by tag rather than split on commas: an entity-tag may itself contain
    // a comma (etagc in RFC 9110 section 8.8.3).
    while (true) {
        rest = trim_ows(rest);
        while (!rest.empty() && rest.front() == ',')
            rest = trim_ows(rest.substr(1));
        if (rest.empty())
            return false;
        if (rest.front() == '*')
            return true;
        std::size_t start = rest.substr(0, 2) == "W/" ? 2 : 0;
        if (start < rest.size() && rest[start] == '"') {
            const auto close = rest.find('"', start + 1);
            if (close == std::string_view::npos)
                return false;
            if (rest.substr(start, close - start + 1) == want)
                return true;
            rest = rest.substr(close + 1);
        } else {
            // Not an entity-tag: skip this element, the rest of the list may still match.
            const auto comma = rest.find(',');
            if (comma == std::string_view::npos)
                return false;
            rest = rest.substr(comma + 1);
        }
    }
}

} // namespace tokenrelay::files
