#include <tokenrelay/core/json_text.hpp>

#include <cstdint>
#include <cstring>

namespace tokenrelay {
namespace {

constexpr std::string_view replacement_char = "\xEF\xBF\xBD"; // U+FFFD

constexpr std::uint64_t repeat(unsigned char b)
{
    return 0x0101010101010101ULL * b;
}

constexpr std::uint64_t high_bits = repeat(0x80);

constexpr std::uint64_t has_zero_byte(std::uint64_t w)
{
    return (w - repeat(0x01)) & ~w & high_bits;
}

// Whether any of 8 bytes is non-ASCII, a control character, '"' or '\\': the only bytes
// that cannot be copied as they are. Exact as a yes/no answer, which is all it is used for.
constexpr bool needs_attention(std::uint64_t w)
{
    const std::uint64_t non_ascii = w & high_bits;
    const std::uint64_t control = (w - repeat(0x20)) & ~w & high_bits;
    return (non_ascii | control | has_zero_byte(w ^ repeat('"')) | has_zero_byte(w ^ repeat('\\'))
           ) != 0;
}

bool is_continuation(unsigned char c) noexcept
{
    return (c & 0xC0) == 0x80;
}

struct utf8_check
{
    bool valid;
    std::size_t length; // bytes the sequence (valid or not) spans
};

// One sequence starting at a byte >= 0x80. Its length comes from the lead byte; an
// invalid sequence (stray continuation, bad lead, truncated, overlong, surrogate, above
// U+10FFFF) spans the lead and the continuation bytes that belong to it, and is replaced
// by one U+FFFD (RFC 3629 section 3 lists what is invalid).
utf8_check check_utf8(const unsigned char* p, const unsigned char* end) noexcept
{
    const unsigned char lead = p[0];
    std::size_t need;
    std::uint32_t cp;
    std::uint32_t min;
    if (lead >= 0xC0 && lead <= 0xDF) {
        need = 2;
        cp = lead & 0x1F;
        min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        cp = lead & 0x0F;
        min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF7) {
        need = 4;
        cp = lead & 0x07;
        min = 0x10000;
    } else {
        return {false, 1};
    }
    const auto avail = static_cast<std::size_t>(end - p);
    std::size_t k = 1;
    for (; k < need && k < avail && is_continuation(p[k]); ++k)
        cp = (cp << 6) | (p[k] & 0x3F);
    if (k < need)
        return {false, k};
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return {false, need};
    return {true, need};
}

void append_escape(std::string& out, unsigned char c)
{
    switch (c) {
    case '"':
        out += "\\\"";
        return;
    case '\\':
        out += "\\\\";
        return;
    case '\n':
        out += "\\n";
        return;
    case '\r':
        out += "\\r";
        return;
    case '\t':
        out += "\\t";
        return;
    case '\b':
        out += "\\b";
        return;
    case '\f':
        out += "\\f";
        return;
    default:
        break;
    }
    constexpr char hex[] = "0123456789abcdef";
    const char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
    out.append(u, sizeof u);
}

} // namespace

void append_json_string(std::string& out, std::string_view s)
{
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    const auto* run = p; // start of bytes that are copied verbatim in one append
    const auto flush = [&](const unsigned char* upto) {
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(upto - run));
    };
    while (p < end) {
        while (end - p >= 8) {
            std::uint64_t w;
            std::memcpy(&w, p, sizeof w);
            if (needs_attention(w))
                break;
            p += 8;
        }
        if (p == end)
            break;
        const unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++p;
        } else if (c >= 0x80) {
            const auto r = check_utf8(p, end);
            if (!r.valid) {
                flush(p);
                out += replacement_char;
                run = p + r.length;
            }
            p += r.length;
        } else {
            flush(p);
            append_escape(out, c);
            run = ++p;
        }
    }
    flush(end);
    out += '"';
}

bool is_valid_utf8(std::string_view s) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    while (p < end) {
        while (end - p >= 8) {
            std::uint64_t w;
            std::memcpy(&w, p, sizeof w);
            if ((w & high_bits) != 0)
                break;
            p += 8;
        }
        if (p == end)
            break;
        if (*p < 0x80) {
            ++p;
            continue;
        }
        const auto r = check_utf8(p, end);
        if (!r.valid)
            return false;
        p += r.length;
    }
    return true;
}

} // namespace tokenrelay
