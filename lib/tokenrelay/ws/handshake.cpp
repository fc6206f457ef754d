#include <tokenrelay/ws/handshake.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace tokenrelay::ws {
namespace {

// A base64 encoding of 16 bytes, as section 4.1 requires of the key.
bool is_valid_key(std::string_view key)
{
    if (key.size() != 24 || key.substr(22) != "==")
        return false;
    return std::all_of(key.begin(), key.end() - 2, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
    });
}

std::string_view key_of(const http::request<http::string_body>& request)
{
    const auto key = request[http::field::sec_websocket_key];
    return {key.data(), key.size()};
}

} // namespace

std::string accept_key(std::string_view client_key)
{
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input(client_key);
    input += guid;
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_size = 0;
    EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr);
    std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
    const int n = EVP_EncodeBlock(text.data(), digest.data(), static_cast<int>(digest_size));
    return {reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(n)};
}

handshake_check check_handshake(const http::request<http::string_body>& request)
{
    if (request.version() < 11 || request.method() != http::verb::get)
        return {http::status::bad_request, "a WebSocket upgrade is a GET over HTTP/1.1"};
    if (request[http::field::sec_websocket_version] != "13")
        return {http::status::upgrade_required, "only WebSocket version 13 is supported"};
    if (!is_valid_key(key_of(request)))
        return {http::status::bad_request, "missing or malformed Sec-WebSocket-Key"};
    return {};
}

http::response<http::empty_body> switching_protocols(const http::request<http::string_body>& request
)
{
    http::response<http::empty_body> res{http::status::switching_protocols, request.version()};
    res.set(http::field::server, "tokenrelay");
    res.set(http::field::upgrade, "websocket");
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::sec_websocket_accept, accept_key(key_of(request)));
    return res;
}

} // namespace tokenrelay::ws
