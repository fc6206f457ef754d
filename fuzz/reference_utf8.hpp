#pragma once
// RFC 3629 section 4 (the UTF8-octets grammar), byte range by byte range: a reference
// written independently of the code under test (core/json_text), for the fuzzers' checks.

#include <cstddef>
#include <string_view>

namespace fuzz_reference {

inline bool valid_utf8(std::string_view s)
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
    while (p < end) {
        const unsigned char c = *p;
        std::size_t n = 0;
        unsigned lo = 0x80;
        unsigned hi = 0xBF;
        if (c <= 0x7F) {
            ++p;
            continue;
        } else if (in(c, 0xC2, 0xDF)) {
            n = 1;
        } else if (c == 0xE0) {
            n = 2;
            lo = 0xA0;
        } else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) {
            n = 2;
        } else if (c == 0xED) {
            n = 2;
            hi = 0x9F;
        } else if (c == 0xF0) {
            n = 3;
            lo = 0x90;
        } else if (in(c, 0xF1, 0xF3)) {
            n = 3;
        } else if (c == 0xF4) {
            n = 3;
            hi = 0x8F;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) < n + 1 || !in(p[1], lo, hi))
            return false;
        for (std::size_t k = 2; k <= n; ++k) {
            if (!in(p[k], 0x80, 0xBF))
                return false;
        }
        p += n + 1;
    }
    return true;
}

} // namespace fuzz_reference
