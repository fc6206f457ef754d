#include <tokenrelay/core/json_text.hpp>
#include <tokenrelay/ws/frame_reader.hpp>

#include <algorithm>

namespace tokenrelay::ws {
namespace {

read_event fail(std::uint16_t code, std::string_view why)
{
    return {read_event::kind::fail, code, why};
}

read_event protocol_error(std::string_view why)
{
    return fail(close_code::protocol_error, why);
}

bool is_control(opcode op)
{
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

bool is_known(std::uint8_t op)
{
    return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Header bytes the frame needs, known once the first two have arrived.
std::uint8_t header_size(unsigned char second)
{
    const auto len7 = second & 0x7F;
    return static_cast<std::uint8_t>(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
}

} // namespace

bool is_valid_close_code(std::uint16_t code) noexcept
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void frame_reader::release_message()
{
    std::string().swap(message_);
    give_back_budget();
}

bool frame_reader::budget_for(std::size_t size)
{
    if (size <= budget_free_bytes_ + budget_taken_)
        return true;
    const auto more = size - budget_free_bytes_ - budget_taken_;
    if (!budget_ || !budget_->take(more))
        return false;
    budget_taken_ += more;
    return true;
}

void frame_reader::give_back_budget() noexcept
{
    if (budget_ && budget_taken_ > 0)
        budget_->give_back(budget_taken_);
    budget_taken_ = 0;
}

read_event frame_reader::next(std::string_view& in)
{
    for (;;) {
        if (!in_payload_) {
            const std::uint8_t need = have_ < 2 ? 2 : header_size(header_[1]);
            const auto take = std::min<std::size_t>(need - have_, in.size());
            std::copy_n(in.data(), take, header_.data() + have_);
            have_ = static_cast<std::uint8_t>(have_ + take);
            in.remove_prefix(take);
            if (have_ < need)
                return {};
            if (need == 2) {
                // The first two bytes say how long the header is; check them before
                // waiting for the rest, so a bad frame fails at once.
                if (auto verdict = check_start(); verdict.what == read_event::kind::fail)
                    return verdict;
                continue;
            }
            if (auto verdict = read_length_and_mask(); verdict.what == read_event::kind::fail)
                return verdict;
            have_ = 0;
            in_payload_ = true;
        }
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
        auto& target = is_control(frame_op_) ? control_ : message_;
        const auto start = target.size();
        target.resize(start + take);
        for (std::size_t i = 0; i < take; ++i) {
            target[start + i] =
                static_cast<char>(static_cast<unsigned char>(in[i]) ^ mask_[(mask_pos_ + i) & 3]);
        }
        mask_pos_ = static_cast<std::uint8_t>((mask_pos_ + take) & 3);
        remaining_ -= take;
        in.remove_prefix(take);
        if (remaining_ != 0)
            return {};
        in_payload_ = false;
        if (auto done = finish_frame(); done.what != read_event::kind::need_more)
            return done;
        if (in.empty())
            return {};
    }
}

read_event frame_reader::check_start() const
{
    const unsigned char first = header_[0];
    const unsigned char second = header_[1];
    const bool fin = (first & 0x80) != 0;
    const auto op_bits = static_cast<std::uint8_t>(first & 0x0F);
    const auto len7 = static_cast<std::uint8_t>(second & 0x7F);
    if ((first & 0x70) != 0)
        return protocol_error("reserved bits set");
    if (!is_known(op_bits))
        return protocol_error("unknown opcode");
    if ((second & 0x80) == 0)
        return protocol_error("client frames must be masked");
    const auto op = static_cast<opcode>(op_bits);
    if (is_control(op)) {
        if (!fin)
            return protocol_error("fragmented control frame");
        if (len7 > 125)
            return protocol_error("control frame over 125 bytes");
    } else if (op == opcode::continuation && !in_message_) {
        return protocol_error("continuation frame with no message to continue");
    } else if (op != opcode::continuation && in_message_) {
        return protocol_error("new message before the fragmented one ended");
    }
    return {};
}

read_event frame_reader::read_length_and_mask()
{
    const auto op = static_cast<opcode>(header_[0] & 0x0F);
    const auto len7 = static_cast<std::uint8_t>(header_[1] & 0x7F);
    std::uint64_t len = len7;
    std::size_t at = 2;
    if (len7 == 126) {
        len = (std::uint64_t{header_[2]} << 8) | header_[3];
        if (len < 126)
            return protocol_error("frame length not in its shortest form");
        at = 4;
    } else if (len7 == 127) {
        len = 0;
        for (std::size_t i = 2; i < 10; ++i)
            len = (len << 8) | header_[i];
        if ((len >> 63) != 0)
            return protocol_error("frame length over 2^63");
        if (len <= 0xFFFF)
            return protocol_error("frame length not in its shortest form");
        at = 10;
    }
    std::copy_n(header_.data() + at, 4, mask_.data());
    mask_pos_ = 0;
    frame_op_ = op;
    frame_fin_ = (header_[0] & 0x80) != 0;
    remaining_ = len;
    if (is_control(op)) {
        control_.clear();
    } else {
        if (op != opcode::continuation) {
            message_.clear();
            give_back_budget();
            message_op_ = op;
        }
        if (len > max_message_bytes_ || message_.size() > max_message_bytes_ - len)
            return fail(close_code::too_big, "message too big");
        if (!budget_for(message_.size() + len))
            return fail(close_code::try_again_later, "too many large messages at once");
    }
    return {};
}

read_event frame_reader::finish_frame()
{
    switch (frame_op_) {
    case opcode::ping:
        return {read_event::kind::ping};
    case opcode::pong:
        return {read_event::kind::pong};
    case opcode::close: {
        if (control_.empty())
            return {read_event::kind::close, close_code::no_status};
        if (control_.size() == 1)
            return protocol_error("close frame with a one-byte payload");
        const auto code = static_cast<std::uint16_t>(
            (static_cast<unsigned char>(control_[0]) << 8) | static_cast<unsigned char>(control_[1])
        );
        if (!is_valid_close_code(code))
            return protocol_error("invalid close code");
        const std::string_view reason = std::string_view(control_).substr(2);
        if (!is_valid_utf8(reason))
            return fail(close_code::invalid_payload, "invalid UTF-8 in a close reason");
        return {read_event::kind::close, code, reason};
    }
    default:
        break;
    }
    if (!frame_fin_) {
        in_message_ = true;
        return {};
    }
    in_message_ = false;
    if (message_op_ == opcode::text && !is_valid_utf8(message_))
        return fail(close_code::invalid_payload, "invalid UTF-8 in a text message");
    return {read_event::kind::message};
}

} // namespace tokenrelay::ws
