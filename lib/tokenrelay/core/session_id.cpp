#include <tokenrelay/core/base64url.hpp>
#include <tokenrelay/core/session_id.hpp>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace tokenrelay {

std::string make_session_id()
{
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return base64url(bytes);
}

bool session_id_equal(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string short_session_id(std::string_view id)
{
    return std::string(id.substr(0, 6)) + "…";
}

} // namespace tokenrelay
