#include <tokenrelay/core/base64url.hpp>
#include <tokenrelay/store/session_keys.hpp>

#include <openssl/evp.h>

#include <array>
#include <span>
#include <stdexcept>

namespace tokenrelay::store {

std::string session_hash(std::string_view session_id)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned size = 0;
    if (EVP_Digest(
            session_id.data(), session_id.size(), digest.data(), &size, EVP_sha256(), nullptr
        ) != 1)
        throw std::runtime_error("SHA-256 failed");
    return base64url(std::span<const unsigned char>(digest.data(), 16));
}

session_keys keys_for(std::string_view session_id)
{
    session_keys k;
    k.tag = "{" + session_hash(session_id) + "}";
    const std::string prefix = "tr:" + k.tag + ":";
    k.log = prefix + "log";
    k.meta = prefix + "meta";
    k.history = prefix + "history";
    k.lease = prefix + "lease";
    k.notify = prefix + "n";
    k.cancel = prefix + "cancel";
    return k;
}

} // namespace tokenrelay::store
