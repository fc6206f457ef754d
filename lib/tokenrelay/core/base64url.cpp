#include <tokenrelay/core/base64url.hpp>

namespace tokenrelay {

std::string base64url(std::span<const unsigned char> bytes)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    unsigned bits = 0;
    int nbits = 0;
    for (unsigned char b : bytes) {
        bits = (bits << 8) | b;
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            out.push_back(alphabet[(bits >> nbits) & 0x3f]);
        }
    }
    if (nbits > 0)
        out.push_back(alphabet[(bits << (6 - nbits)) & 0x3f]);
    return out;
}

} // namespace tokenrelay
