// frame_writer: server frame headers (RFC 6455 section 5.2) are final, unmasked, carry
// the opcode and use the shortest length form, big-endian; make_frame is header plus
// payload; close_payload puts the code first and cuts the reason to 123 bytes at a UTF-8
// character boundary; and a frame it writes, masked as a client would, reads back the
// same through frame_reader.
#include <tokenrelay/core/json_text.hpp>
#include <tokenrelay/ws/frame_reader.hpp>
#include <tokenrelay/ws/frame_writer.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenrelay::ws {
namespace {

std::string bytes(std::initializer_list<unsigned> list)
{
    std::string out;
    for (const unsigned b : list)
        out += static_cast<char>(b);
    return out;
}

std::string header_bytes(opcode op, std::size_t size)
{
    const frame_header h(op, size);
    return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

std::string pattern(std::size_t n)
{
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<char>((i * 7 + i / 256) & 0xFF);
    return out;
}

// The server frame as a client would send it: mask bit set, key after the length,
// payload XORed with the key.
std::string mask_as_client(std::string_view frame, std::array<unsigned char, 4> key)
{
    const auto len7 = static_cast<unsigned char>(frame[1]) & 0x7F;
    const std::size_t header = len7 == 127 ? 10 : len7 == 126 ? 4 : 2;
    std::string out(frame.substr(0, header));
    out[1] = static_cast<char>(static_cast<unsigned char>(out[1]) | 0x80);
    for (const unsigned char b : key)
        out += static_cast<char>(b);
    for (std::size_t i = header; i < frame.size(); ++i)
        out += static_cast<char>(static_cast<unsigned char>(frame[i]) ^ key[(i - header) % 4]);
    return out;
}

BOOST_AUTO_TEST_CASE(header_of_an_empty_frame)
{
    BOOST_TEST(header_bytes(opcode::text, 0) == bytes({0x81, 0x00}));
}

BOOST_AUTO_TEST_CASE(header_of_125_bytes_uses_the_7_bit_length)
{
    BOOST_TEST(header_bytes(opcode::text, 125) == bytes({0x81, 0x7D}));
}

BOOST_AUTO_TEST_CASE(header_of_126_bytes_uses_the_16_bit_length)
{
    BOOST_TEST(header_bytes(opcode::binary, 126) == bytes({0x82, 0x7E, 0x00, 0x7E}));
}

BOOST_AUTO_TEST_CASE(header_of_65535_bytes_uses_the_16_bit_length)
{
    BOOST_TEST(header_bytes(opcode::binary, 65535) == bytes({0x82, 0x7E, 0xFF, 0xFF}));
}

BOOST_AUTO_TEST_CASE(header_of_65536_bytes_uses_the_64_bit_length)
{
    BOOST_TEST(
        header_bytes(opcode::binary, 65536) ==
        bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00})
    );
}

BOOST_AUTO_TEST_CASE(header_64_bit_length_is_big_endian)
{
    static_assert(sizeof(std::size_t) == 8);
    BOOST_TEST(
        header_bytes(opcode::text, 0x0102030405060708ULL) ==
        bytes({0x81, 0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08})
    );
}

BOOST_AUTO_TEST_CASE(header_has_fin_set_the_opcode_and_no_mask)
{
    struct op_case
    {
        opcode op;
        unsigned char first;
    };
    for (const op_case c : {
             op_case{opcode::text, 0x81},
             op_case{opcode::binary, 0x82},
             op_case{opcode::close, 0x88},
             op_case{opcode::ping, 0x89},
             op_case{opcode::pong, 0x8A},
         }) {
        for (const std::size_t size : {0, 5, 300, 70000}) {
            BOOST_TEST_CONTEXT("opcode " << int(c.first) << ", size " << size)
            {
                const std::string h = header_bytes(c.op, size);
                BOOST_TEST(static_cast<unsigned char>(h[0]) == c.first);
                BOOST_TEST((static_cast<unsigned char>(h[1]) & 0x80) == 0); // a server never masks
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(make_frame_is_header_then_payload)
{
    BOOST_TEST(make_frame(opcode::pong, "abc") == bytes({0x8A, 0x03, 'a', 'b', 'c'}));
    BOOST_TEST(make_frame(opcode::ping, "") == bytes({0x89, 0x00}));
    const std::string payload = pattern(300);
    BOOST_TEST(make_frame(opcode::binary, payload) == bytes({0x82, 0x7E, 0x01, 0x2C}) + payload);
}

BOOST_AUTO_TEST_CASE(close_payload_starts_with_the_code_big_endian)
{
    BOOST_TEST(close_payload(1000, "bye") == bytes({0x03, 0xE8, 'b', 'y', 'e'}));
    BOOST_TEST(close_payload(1009, "") == bytes({0x03, 0xF1}));
    BOOST_TEST(close_payload(4999, "") == bytes({0x13, 0x87}));
}

BOOST_AUTO_TEST_CASE(close_reason_up_to_123_bytes_is_kept_whole)
{
    const std::string reason(123, 'r');
    BOOST_TEST(close_payload(1000, reason) == bytes({0x03, 0xE8}) + reason);
    const std::string utf8 = std::string(121, 'r') + "\xC3\xA9"; // ends with a whole character
    BOOST_TEST(close_payload(1000, utf8) == bytes({0x03, 0xE8}) + utf8);
}

BOOST_AUTO_TEST_CASE(close_reason_over_123_bytes_is_cut_to_123)
{
    const std::string reason = std::string(124, 'a') + std::string(100, 'b');
    const std::string payload = close_payload(1001, reason);
    BOOST_TEST(payload.size() == 125u);
    BOOST_TEST(payload == bytes({0x03, 0xE9}) + std::string(123, 'a'));
}

BOOST_AUTO_TEST_CASE(close_reason_is_never_cut_inside_a_character)
{
    // A 2-, 3- or 4-byte character starting at every offset around the 123-byte limit:
    // the reason kept is the longest whole-character prefix of at most 123 bytes.
    for (const std::string_view ch : {
             std::string_view("\xC3\xA9"),
             std::string_view("\xE2\x82\xAC"),
             std::string_view("\xF0\x9D\x84\x9E"),
         }) {
        for (std::size_t at = 115; at <= 124; ++at) {
            const std::string reason =
                std::string(at, 'a') + std::string(ch) + std::string(40, 'z');
            std::size_t expect = 123;
            if (at < 123 && at + ch.size() > 123)
                expect = at; // the character would straddle the limit: it goes
            BOOST_TEST_CONTEXT(ch.size() << "-byte character at " << at)
            {
                const std::string payload = close_payload(1000, reason);
                BOOST_TEST_REQUIRE(payload.size() >= 2u);
                const std::string_view kept = std::string_view(payload).substr(2);
                BOOST_TEST(kept.size() == expect);
                BOOST_TEST(kept == std::string_view(reason).substr(0, expect));
                BOOST_TEST(is_valid_utf8(kept));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(close_reason_of_only_multibyte_characters_is_cut_at_a_boundary)
{
    std::string reason;
    for (int i = 0; i < 40; ++i)
        reason += "\xE2\x82\xAC"; // 120 bytes
    reason += "\xF0\x9D\x84\x9E"; // bytes 120..123: straddles the limit
    reason += "tail";
    const std::string payload = close_payload(1000, reason);
    BOOST_TEST(payload.size() == 2u + 120u);
    BOOST_TEST(std::string_view(payload).substr(2) == std::string_view(reason).substr(0, 120));
}

// --- round trip through frame_reader ----------------------------------------------------

BOOST_AUTO_TEST_CASE(data_frames_read_back_through_frame_reader)
{
    for (const std::size_t size : {0, 1, 125, 126, 65535, 65536, 70001}) {
        for (const opcode op : {opcode::text, opcode::binary}) {
            BOOST_TEST_CONTEXT("size " << size << ", opcode " << int(op))
            {
                // Text must be valid UTF-8: letters then; binary gets every byte value.
                std::string payload = op == opcode::text ? std::string(size, 'q') : pattern(size);
                if (op == opcode::text && size >= 3)
                    payload.replace(size - 3, 3, "\xE2\x82\xAC");
                const std::string wire =
                    mask_as_client(make_frame(op, payload), {0x12, 0x9C, 0xF0, 0x07});
                frame_reader reader(1 << 20);
                std::string_view in = wire;
                const read_event ev = reader.next(in);
                BOOST_TEST(in.empty());
                BOOST_TEST((ev.what == read_event::kind::message));
                BOOST_TEST(reader.message_is_text() == (op == opcode::text));
                BOOST_TEST(reader.message() == payload);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(frame_header_with_payload_reads_back_through_frame_reader)
{
    // The two buffers of a gathered write, concatenated.
    const std::string payload = pattern(1000);
    const frame_header h(opcode::binary, payload.size());
    const std::string frame =
        std::string(reinterpret_cast<const char*>(h.data()), h.size()) + payload;
    const std::string wire = mask_as_client(frame, {1, 2, 3, 4});
    frame_reader reader(4096);
    std::string_view in = wire;
    BOOST_TEST((reader.next(in).what == read_event::kind::message));
    BOOST_TEST(reader.message() == payload);
}

BOOST_AUTO_TEST_CASE(control_frames_read_back_through_frame_reader)
{
    frame_reader reader(1024);
    const std::string reason = std::string(121, 'x') + "\xE2\x82\xAC tail";
    const std::string wire =
        mask_as_client(make_frame(opcode::ping, "hi"), {9, 8, 7, 6}) +
        mask_as_client(make_frame(opcode::pong, pattern(125)), {5, 4, 3, 2}) +
        mask_as_client(make_frame(opcode::close, close_payload(1001, reason)), {0xFF, 0, 0xFF, 0});
    std::string_view in = wire;

    BOOST_TEST((reader.next(in).what == read_event::kind::ping));
    BOOST_TEST(reader.control_payload() == "hi");

    BOOST_TEST((reader.next(in).what == read_event::kind::pong));
    BOOST_TEST(reader.control_payload() == pattern(125));

    const read_event close = reader.next(in);
    BOOST_TEST((close.what == read_event::kind::close));
    BOOST_TEST(close.code == 1001);
    BOOST_TEST(close.reason == std::string(121, 'x')); // the euro sign did not fit
    BOOST_TEST(in.empty());
}

} // namespace
} // namespace tokenrelay::ws
