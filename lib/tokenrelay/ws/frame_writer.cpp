#include <tokenrelay/ws/frame_writer.hpp>

namespace tokenrelay::ws {

frame_header::frame_header(opcode op, std::size_t payload_size) noexcept
{
    bytes_[0] = static_cast<unsigned char>(0x80 | static_cast<std::uint8_t>(op));
    if (payload_size < 126) {
        bytes_[1] = static_cast<unsigned char>(payload_size);
        size_ = 2;
    } else if (payload_size <= 0xFFFF) {
        bytes_[1] = 126;
        bytes_[2] = static_cast<unsigned char>(payload_size >> 8);
        bytes_[3] = static_cast<unsigned char>(payload_size);
        size_ = 4;
    } else {
        bytes_[1] = 127;
        const auto n = static_cast<std::uint64_t>(payload_size);
        for (int i = 0; i < 8; ++i)
            bytes_[2 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
        size_ = 10;
    }
}

std::string make_frame(opcode op, std::string_view payload)
{
    const frame_header header(op, payload.size());
    std::string frame(reinterpret_cast<const char*>(header.data()), header.size());
    frame += payload;
    return frame;
}

std::string close_payload(std::uint16_t code, std::string_view reason)
{
    constexpr std::size_t max_reason = 123; // 125 bytes of control payload, less the code
    if (reason.size() > max_reason) {
        std::size_t cut = max_reason;
        while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80)
            --cut; // do not end inside a character
        reason = reason.substr(0, cut);
    }
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload += reason;
    return payload;
}

} // namespace tokenrelay::ws
