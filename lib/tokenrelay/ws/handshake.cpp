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

handshake_answer refuse(std::string_view status, std::string_view why, std::string_view extra = {})
{
    std::string bytes = "HTTP/1.1 ";
    bytes += status;
    bytes += "\r\nServer: tokenrelay\r\nConnection: close\r\nContent-Type: text/plain\r\n";
    bytes += extra;
    bytes += "Content-Length: " + std::to_string(why.size() + 1) + "\r\n\r\n";
    bytes += why;
    bytes += '\n';
    return {false, std::move(bytes)};
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

handshake_answer answer_upgrade(const http::request<http::string_body>& request)
{
    if (request.version() < 11 || request.method() != http::verb::get)
        return refuse("400 Bad Request", "a WebSocket upgrade is a GET over HTTP/1.1");
    if (request[http::field::sec_websocket_version] != "13") {
        return refuse(
            "426 Upgrade Required",
            "only WebSocket version 13 is supported",
            "Sec-WebSocket-Version: 13\r\n"
        );
    }
    const auto key = request[http::field::sec_websocket_key];
    if (!is_valid_key({key.data(), key.size()}))
        return refuse("400 Bad Request", "missing or malformed Sec-WebSocket-Key");
    std::string bytes = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nServer: tokenrelay\r\nSec-WebSocket-Accept: ";
    bytes += accept_key({key.data(), key.size()});
    bytes += "\r\n\r\n";
    return {true, std::move(bytes)};
}

} // namespace tokenrelay::ws
