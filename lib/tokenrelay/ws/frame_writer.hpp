#pragma once
// Server WebSocket frames (RFC 6455 section 5.2): unmasked, each message one final frame.
// The header is built apart from the payload so a frame goes out as two buffers of one
// gathered write, with no copy of the payload. Sans-I/O.

#include <tokenrelay/ws/frame_reader.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenrelay::ws {

/// The 2 to 10 header bytes of a final, unmasked frame.
class frame_header
{
public:
    frame_header(opcode op, std::size_t payload_size) noexcept;

    const unsigned char* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return size_; }

private:
    std::array<unsigned char, 10> bytes_;
    std::uint8_t size_;
};

/// A whole frame, header and payload, in one string: for the rare frames (close, ping,
/// pong) that are not worth a gathered write.
std::string make_frame(opcode op, std::string_view payload);

/// A close frame's payload: the code, then as much of `reason` as fits in a control
/// frame (123 bytes), cut at a UTF-8 character boundary.
std::string close_payload(std::uint16_t code, std::string_view reason);

} // namespace tokenrelay::ws
