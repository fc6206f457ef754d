#pragma once
// Client WebSocket frames (RFC 6455 section 5) read incrementally from whatever the socket
// delivered: a header or payload may be cut anywhere. Checks every rule a server must
// enforce (masking, reserved bits, opcodes, control-frame limits, fragmentation order,
// message size, UTF-8 of text and close reasons) and says which close code answers a
// violation. Sans-I/O: the connection feeds it bytes and acts on what comes out.

#include <tokenrelay/core/large_message_budget.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenrelay::ws {

enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

/// RFC 6455 section 7.4.1 codes the relay sends.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005; // never sent: "the close frame had no code"
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t try_again_later = 1013;
} // namespace close_code

/// Whether a peer may put `code` in a close frame (RFC 6455 section 7.4: 1004-1006 and
/// 1015 are reserved for local use, 1012-1014 registered since, 5000 and up unassigned).
bool is_valid_close_code(std::uint16_t code) noexcept;

/// What the bytes read so far amount to.
struct read_event
{
    enum class kind {
        need_more, ///< everything given was consumed; nothing is complete yet
        message,   ///< a whole data message: frame_reader::message()
        ping,      ///< frame_reader::control_payload() is to be echoed in a pong
        pong,
        close, ///< the peer closes: `code` (no_status if it gave none) and `reason`
        fail,  ///< a violation: close with `code`; `reason` says why (static text)
    };
    kind what = kind::need_more;
    std::uint16_t code = 0;
    std::string_view reason{};
};

class frame_reader
{
public:
    explicit frame_reader(std::size_t max_message_bytes) noexcept
        : max_message_bytes_(max_message_bytes), budget_free_bytes_(max_message_bytes)
    {}
    /// Messages may grow past `budget_free_bytes` up to `max_message_bytes` only while
    /// `budget` has room for the excess; else the connection closes with 1013.
    frame_reader(
        std::size_t max_message_bytes, std::size_t budget_free_bytes, large_message_budget& budget
    ) noexcept
        : max_message_bytes_(max_message_bytes), budget_free_bytes_(budget_free_bytes),
          budget_(&budget)
    {}
    ~frame_reader() { give_back_budget(); }
    frame_reader(const frame_reader&) = delete;
    frame_reader& operator=(const frame_reader&) = delete;

    /// Consumes bytes from the front of `in` until an event is complete or `in` is used
    /// up. After `fail` the stream is broken and the reader must not be used again.
    read_event next(std::string_view& in);

    /// The message completed by the last `message` event, unmasked.
    std::string& message() noexcept { return message_; }
    bool message_is_text() const noexcept { return message_op_ == opcode::text; }
    /// Forgets the completed message and gives its memory back (an idle connection
    /// keeps none).
    void release_message();

    /// The payload of the last ping, pong or close frame.
    std::string_view control_payload() const noexcept { return control_; }

    /// True from the first byte of a frame until its message is complete: more bytes
    /// are due soon.
    bool mid_message() const noexcept { return have_ != 0 || in_payload_ || in_message_; }

private:
    /// The rules the first two header bytes show (checked once, as soon as they are in).
    read_event check_start() const;
    /// The rest of a whole header: length (shortest form, limit) and mask key.
    read_event read_length_and_mask();
    read_event finish_frame();
    /// Takes from the budget what a message of `size` bytes needs; false when it cannot.
    bool budget_for(std::size_t size);
    void give_back_budget() noexcept;

    std::size_t max_message_bytes_;
    std::size_t budget_free_bytes_;
    large_message_budget* budget_ = nullptr;
    std::size_t budget_taken_ = 0;
    std::string message_;
    std::string control_;
    std::uint64_t remaining_ = 0; // payload bytes of the current frame still to come
    std::array<unsigned char, 14> header_{};
    std::array<unsigned char, 4> mask_{};
    std::uint8_t have_ = 0;     // header bytes gathered
    std::uint8_t mask_pos_ = 0; // payload bytes unmasked so far, modulo 4
    opcode frame_op_ = opcode::continuation;
    opcode message_op_ = opcode::text;
    bool frame_fin_ = false;
    bool in_payload_ = false;
    bool in_message_ = false; // a fragmented message awaits its continuation frames
};

} // namespace tokenrelay::ws
