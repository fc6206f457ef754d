// frame_reader: client frames (RFC 6455 section 5) are unmasked and reassembled whatever
// way the bytes are cut; each length form is read and must be the shortest; control
// frames (ping, pong, close with its code and reason) come out between fragments; every
// violation fails with the close code the RFC gives it (1002 protocol, 1007 bad UTF-8,
// 1009 too big), as soon as the bytes that show it have arrived; mid_message() and
// release_message() say and do what the connection relies on.
#include <tokenrelay/ws/frame_reader.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::ws {
namespace {

using kind = read_event::kind;

enum class length_form { shortest, bits16, bits64 };

struct frame_options
{
    bool fin = true;
    length_form form = length_form::shortest;
    std::uint8_t rsv = 0; ///< RSV1..RSV3 as the bits 0x40, 0x20, 0x10 of the first byte
    bool masked = true;
    std::array<unsigned char, 4> mask{0x37, 0xFA, 0x21, 0x3D};
    std::optional<std::uint64_t> declared_length; ///< a length field other than the payload's

    frame_options& not_final()
    {
        fin = false;
        return *this;
    }
    frame_options& length_in(length_form f)
    {
        form = f;
        return *this;
    }
    frame_options& reserved(std::uint8_t bits)
    {
        rsv = bits;
        return *this;
    }
    frame_options& unmasked()
    {
        masked = false;
        return *this;
    }
    frame_options& key(std::array<unsigned char, 4> k)
    {
        mask = k;
        return *this;
    }
    frame_options& declaring(std::uint64_t len)
    {
        declared_length = len;
        return *this;
    }
};

frame_options opts()
{
    return {};
}

// A frame as a client sends it (RFC 6455 section 5.2), written here independently of
// the code under test.
std::string client_frame(std::uint8_t op, std::string_view payload, const frame_options& o = opts())
{
    const std::uint64_t len = o.declared_length.value_or(payload.size());
    length_form form = o.form;
    if (form == length_form::shortest)
        form = len < 126       ? length_form::shortest
               : len <= 0xFFFF ? length_form::bits16
                               : length_form::bits64;
    std::string out;
    out += static_cast<char>((o.fin ? 0x80 : 0) | o.rsv | op);
    const unsigned char mask_bit = o.masked ? 0x80 : 0;
    if (form == length_form::shortest) {
        out += static_cast<char>(mask_bit | len);
    } else if (form == length_form::bits16) {
        out += static_cast<char>(mask_bit | 126);
        out += static_cast<char>((len >> 8) & 0xFF);
        out += static_cast<char>(len & 0xFF);
    } else {
        out += static_cast<char>(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out += static_cast<char>((len >> shift) & 0xFF);
    }
    if (o.masked) {
        for (const unsigned char b : o.mask)
            out += static_cast<char>(b);
    }
    for (std::size_t i = 0; i < payload.size(); ++i) {
        const auto b = static_cast<unsigned char>(payload[i]);
        out += static_cast<char>(o.masked ? b ^ o.mask[i % 4] : b);
    }
    return out;
}

std::string bytes(std::initializer_list<unsigned> list)
{
    std::string out;
    for (const unsigned b : list)
        out += static_cast<char>(b);
    return out;
}

// Every byte value, so that unmasking is checked at every position of the mask.
std::string pattern(std::size_t n)
{
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<char>((i * 7 + i / 256) & 0xFF);
    return out;
}

std::string close_body(std::uint16_t code, std::string_view reason = {})
{
    std::string out;
    out += static_cast<char>(code >> 8);
    out += static_cast<char>(code & 0xFF);
    out += reason;
    return out;
}

// One event with what came with it, copied out of the reader.
struct recorded
{
    kind what = kind::need_more;
    std::uint16_t code = 0;
    std::string reason;
    std::string payload; ///< message() for a message, control_payload() otherwise
    bool text = false;   ///< message_is_text() for a message

    bool operator==(const recorded&) const = default;
};

const char* kind_name(kind k)
{
    switch (k) {
    case kind::need_more:
        return "need_more";
    case kind::message:
        return "message";
    case kind::ping:
        return "ping";
    case kind::pong:
        return "pong";
    case kind::close:
        return "close";
    case kind::fail:
        return "fail";
    }
    return "?";
}

std::ostream& operator<<(std::ostream& os, const recorded& r)
{
    os << '{' << kind_name(r.what) << " code=" << r.code << " reason=\"" << r.reason
       << "\" payload(" << r.payload.size() << ")=\"";
    for (const char c : r.payload.substr(0, 40)) {
        const auto b = static_cast<unsigned char>(c);
        if (b >= 0x20 && b < 0x7F) {
            os << c;
        } else {
            constexpr char hex[] = "0123456789abcdef";
            os << "\\x" << hex[b >> 4] << hex[b & 0xF];
        }
    }
    return os << (r.payload.size() > 40 ? "...\"" : "\"") << (r.text ? " text}" : "}");
}

recorded record(frame_reader& reader, const read_event& ev)
{
    recorded r{ev.what, ev.code, std::string(ev.reason), {}, false};
    if (ev.what == kind::message) {
        r.payload = reader.message();
        r.text = reader.message_is_text();
    } else if (ev.what == kind::ping || ev.what == kind::pong || ev.what == kind::close) {
        r.payload = std::string(reader.control_payload());
    }
    if (ev.what == kind::fail)
        r.reason.clear(); // free text: only its presence is checked, in feed()
    return r;
}

// Feeds the chunks in order and returns the events (need_more left out), up to the
// first fail. A need_more that leaves bytes unconsumed is itself a bug: it is recorded
// as a fail with code 0 so that no comparison can pass.
std::vector<recorded> feed(frame_reader& reader, const std::vector<std::string_view>& chunks)
{
    std::vector<recorded> events;
    for (std::string_view in : chunks) {
        do {
            const read_event ev = reader.next(in);
            if (ev.what == kind::need_more) {
                if (!in.empty()) {
                    events.push_back({kind::fail, 0, "need_more left input", {}, false});
                    return events;
                }
                continue;
            }
            if (ev.what == kind::fail)
                BOOST_TEST(!ev.reason.empty());
            events.push_back(record(reader, ev));
            if (ev.what == kind::fail)
                return events;
        } while (!in.empty());
    }
    return events;
}

std::vector<recorded> feed_whole(std::string_view stream, std::size_t max = 1 << 20)
{
    frame_reader reader(max);
    return feed(reader, {stream});
}

recorded message(std::string payload, bool text = true)
{
    return {kind::message, 0, {}, std::move(payload), text};
}

recorded failure(std::uint16_t code)
{
    return {kind::fail, code, {}, {}, false};
}

// The single event `stream` gives, read in one piece.
recorded only_event(std::string_view stream, std::size_t max = 1 << 20)
{
    const auto events = feed_whole(stream, max);
    BOOST_TEST_REQUIRE(events.size() == 1u);
    return events.front();
}

// --- the helper itself -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(helper_matches_the_rfc_masked_hello_example)
{
    // RFC 6455 section 5.7: a single-frame masked text message "Hello".
    BOOST_TEST(
        client_frame(0x1, "Hello") ==
        bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})
    );
}

// --- messages and length forms -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(small_masked_text_message_is_unmasked)
{
    frame_reader reader(1024);
    std::string_view in = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    const read_event ev = reader.next(in);
    BOOST_TEST(in.empty());
    BOOST_TEST((ev.what == kind::message));
    BOOST_TEST(reader.message() == "Hello");
    BOOST_TEST(reader.message_is_text());
    BOOST_TEST(!reader.mid_message());
}

BOOST_AUTO_TEST_CASE(empty_text_message_is_a_message)
{
    const std::string frame = client_frame(0x1, "");
    BOOST_TEST(frame.size() == 6u);
    BOOST_TEST(only_event(frame) == message(""));
}

BOOST_AUTO_TEST_CASE(payload_lengths_are_read_in_each_length_form)
{
    struct length_case
    {
        std::size_t size;
        std::size_t header;
        unsigned char second; // the length byte the client writes, mask bit included
    };
    for (const length_case c : {
             length_case{125, 6, 0x80 | 125},
             length_case{126, 8, 0x80 | 126},
             length_case{65535, 8, 0x80 | 126},
             length_case{65536, 14, 0x80 | 127},
         }) {
        BOOST_TEST_CONTEXT("payload of " << c.size << " bytes")
        {
            const std::string payload = pattern(c.size);
            const std::string frame = client_frame(0x2, payload);
            BOOST_TEST_REQUIRE(frame.size() == c.header + c.size);
            BOOST_TEST(static_cast<unsigned char>(frame[1]) == c.second);
            BOOST_TEST(only_event(frame) == message(payload, false));
        }
    }
}

BOOST_AUTO_TEST_CASE(binary_message_is_not_text_and_text_after_it_is)
{
    frame_reader reader(1024);
    const std::string stream =
        client_frame(0x2, bytes({0xFF, 0x00, 0xC0, 0xAF})) + client_frame(0x1, "t");
    const auto events = feed(reader, {stream});
    BOOST_TEST_REQUIRE(events.size() == 2u);
    BOOST_TEST(events[0] == message(bytes({0xFF, 0x00, 0xC0, 0xAF}), false));
    BOOST_TEST(events[1] == message("t", true));
}

// --- any cut of the stream ---------------------------------------------------------------

// Several frames of every kind: a 16-bit length, a fragmented message with control
// frames between its fragments and an empty final fragment, and a close.
std::string mixed_stream()
{
    return client_frame(0x1, "Hello", opts().key({1, 2, 3, 4})) +
           client_frame(0x9, "are you there") + client_frame(0x2, pattern(300)) +
           client_frame(0x1, "frag", opts().not_final().key({0xA0, 0xB1, 0xC2, 0xD3})) +
           client_frame(0xA, "pong!") + client_frame(0x0, "men", opts().not_final()) +
           client_frame(0x9, "") + client_frame(0x0, "ted \xE2\x82", opts().not_final()) +
           client_frame(0x0, "\xAC", opts().not_final()) + client_frame(0x0, "") +
           client_frame(0x1, "") + client_frame(0x8, close_body(1000, "bye"));
}

std::vector<recorded> mixed_stream_events()
{
    return {
        message("Hello"),
        {kind::ping, 0, {}, "are you there", false},
        message(pattern(300), false),
        {kind::pong, 0, {}, "pong!", false},
        {kind::ping, 0, {}, "", false},
        message("fragmented \xE2\x82\xAC"),
        message(""),
        {kind::close, 1000, "bye", close_body(1000, "bye"), false},
    };
}

BOOST_AUTO_TEST_CASE(stream_in_one_piece_gives_every_event)
{
    BOOST_TEST(feed_whole(mixed_stream()) == mixed_stream_events());
}

BOOST_AUTO_TEST_CASE(stream_cut_in_two_at_every_offset_gives_the_same_events)
{
    const std::string stream = mixed_stream();
    const std::string_view all = stream;
    const auto expected = mixed_stream_events();
    for (std::size_t cut = 0; cut <= all.size(); ++cut) {
        frame_reader reader(1 << 20);
        const auto got = feed(reader, {all.substr(0, cut), all.substr(cut)});
        BOOST_TEST_CONTEXT("cut at " << cut)
        {
            BOOST_TEST(got == expected);
            BOOST_TEST(!reader.mid_message());
        }
    }
}

BOOST_AUTO_TEST_CASE(stream_fed_one_byte_at_a_time_gives_the_same_events)
{
    const std::string stream = mixed_stream();
    std::vector<std::string_view> chunks;
    for (std::size_t i = 0; i < stream.size(); ++i)
        chunks.push_back(std::string_view(stream).substr(i, 1));
    frame_reader reader(1 << 20);
    BOOST_TEST(feed(reader, chunks) == mixed_stream_events());
}

// --- fragmentation and control frames ----------------------------------------------------

BOOST_AUTO_TEST_CASE(fragmented_message_is_reassembled_around_a_ping)
{
    frame_reader reader(1024);
    const std::string first = client_frame(0x1, "Hel", opts().not_final());
    const std::string ping = client_frame(0x9, "still here");
    const std::string last = client_frame(0x0, "lo World");

    std::string_view in = first;
    BOOST_TEST((reader.next(in).what == kind::need_more));
    BOOST_TEST(in.empty());
    BOOST_TEST(reader.mid_message());

    in = ping;
    BOOST_TEST((reader.next(in).what == kind::ping));
    BOOST_TEST(reader.control_payload() == "still here");
    BOOST_TEST(reader.mid_message());

    in = last;
    BOOST_TEST((reader.next(in).what == kind::message));
    BOOST_TEST(reader.message() == "Hello World");
    BOOST_TEST(reader.message_is_text());
    BOOST_TEST(!reader.mid_message());
}

BOOST_AUTO_TEST_CASE(fragmented_binary_message_stays_binary)
{
    const std::string stream = client_frame(0x2, bytes({0xFF}), opts().not_final()) +
                               client_frame(0x0, bytes({0xFE}), opts().not_final()) +
                               client_frame(0x0, bytes({0xFD}));
    BOOST_TEST(only_event(stream) == message(bytes({0xFF, 0xFE, 0xFD}), false));
}

BOOST_AUTO_TEST_CASE(pong_is_reported_with_its_payload)
{
    BOOST_TEST(only_event(client_frame(0xA, "42")) == (recorded{kind::pong, 0, {}, "42", false}));
}

BOOST_AUTO_TEST_CASE(control_payload_of_125_bytes_is_accepted)
{
    const std::string payload = pattern(125);
    BOOST_TEST(
        only_event(client_frame(0x9, payload)) == (recorded{kind::ping, 0, {}, payload, false})
    );
}

BOOST_AUTO_TEST_CASE(close_gives_its_code_and_reason)
{
    const std::string body = close_body(1001, "going \xC3\xA0 bed");
    BOOST_TEST(
        only_event(client_frame(0x8, body)) ==
        (recorded{kind::close, 1001, "going \xC3\xA0 bed", body, false})
    );
}

BOOST_AUTO_TEST_CASE(close_with_a_code_and_no_reason)
{
    const std::string body = close_body(4999);
    BOOST_TEST(
        only_event(client_frame(0x8, body)) == (recorded{kind::close, 4999, "", body, false})
    );
}

BOOST_AUTO_TEST_CASE(close_codes_a_peer_may_send_are_accepted)
{
    for (const std::uint16_t code :
         {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999}) {
        BOOST_TEST_CONTEXT("code " << code)
        {
            const auto ev = only_event(client_frame(0x8, close_body(code, "r")));
            BOOST_TEST((ev.what == kind::close));
            BOOST_TEST(ev.code == code);
            BOOST_TEST(ev.reason == "r");
        }
    }
}

BOOST_AUTO_TEST_CASE(close_with_empty_payload_reports_no_status)
{
    BOOST_TEST(
        only_event(client_frame(0x8, "")) ==
        (recorded{kind::close, close_code::no_status, "", "", false})
    );
    BOOST_TEST(close_code::no_status == 1005);
}

BOOST_AUTO_TEST_CASE(close_with_one_byte_payload_is_a_protocol_error)
{
    // 0x0F and 0x10 would make valid codes (3840, 4096) if a second byte were read.
    for (const unsigned b : {0x03, 0x0F, 0x10}) {
        BOOST_TEST_CONTEXT("byte " << b)
        {
            BOOST_TEST(only_event(client_frame(0x8, bytes({b}))) == failure(1002));
        }
    }
}

BOOST_AUTO_TEST_CASE(close_codes_a_peer_may_not_send_are_protocol_errors)
{
    for (const std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        BOOST_TEST_CONTEXT("code " << code)
        {
            BOOST_TEST(only_event(client_frame(0x8, close_body(code))) == failure(1002));
        }
    }
}

BOOST_AUTO_TEST_CASE(close_reason_with_invalid_utf8_fails_with_1007)
{
    BOOST_TEST(only_event(client_frame(0x8, close_body(1000, "ok \xC0\xAF"))) == failure(1007));
    BOOST_TEST(only_event(client_frame(0x8, close_body(1000, "\xE2\x82"))) == failure(1007));
}

// --- protocol errors ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reserved_bits_are_protocol_errors)
{
    for (const std::uint8_t rsv : {0x40, 0x20, 0x10}) {
        BOOST_TEST_CONTEXT("rsv bit " << int(rsv))
        {
            BOOST_TEST(only_event(client_frame(0x1, "x", opts().reserved(rsv))) == failure(1002));
            BOOST_TEST(only_event(client_frame(0x9, "x", opts().reserved(rsv))) == failure(1002));
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_opcodes_are_protocol_errors)
{
    for (const std::uint8_t op : {0x3, 0x7, 0xB, 0xF}) {
        BOOST_TEST_CONTEXT("opcode " << int(op))
        {
            BOOST_TEST(only_event(client_frame(op, "x")) == failure(1002));
        }
    }
}

BOOST_AUTO_TEST_CASE(unmasked_frame_is_a_protocol_error)
{
    BOOST_TEST(only_event(client_frame(0x1, "Hello", opts().unmasked())) == failure(1002));
    BOOST_TEST(only_event(client_frame(0x9, "", opts().unmasked())) == failure(1002));
}

BOOST_AUTO_TEST_CASE(fragmented_control_frame_is_a_protocol_error)
{
    BOOST_TEST(only_event(client_frame(0x9, "p", opts().not_final())) == failure(1002));
    BOOST_TEST(
        only_event(client_frame(0x8, close_body(1000), opts().not_final())) == failure(1002)
    );
}

BOOST_AUTO_TEST_CASE(control_payload_over_125_bytes_is_a_protocol_error)
{
    BOOST_TEST(only_event(client_frame(0x9, pattern(126))) == failure(1002));
    BOOST_TEST(only_event(client_frame(0xA, pattern(126))) == failure(1002));
    BOOST_TEST(
        only_event(client_frame(0x8, close_body(1000, std::string(124, 'r')))) == failure(1002)
    );
}

BOOST_AUTO_TEST_CASE(continuation_with_no_message_is_a_protocol_error)
{
    BOOST_TEST(only_event(client_frame(0x0, "x")) == failure(1002));
    // Also once a previous message has ended.
    BOOST_TEST(
        feed_whole(client_frame(0x1, "a") + client_frame(0x0, "b")) ==
        (std::vector<recorded>{message("a"), failure(1002)})
    );
}

BOOST_AUTO_TEST_CASE(new_data_frame_inside_a_fragmented_message_is_a_protocol_error)
{
    for (const std::uint8_t op : {0x1, 0x2}) {
        BOOST_TEST_CONTEXT("opcode " << int(op))
        {
            BOOST_TEST(
                only_event(client_frame(0x1, "a", opts().not_final()) + client_frame(op, "b")) ==
                failure(1002)
            );
        }
    }
}

BOOST_AUTO_TEST_CASE(length_not_in_its_shortest_form_is_a_protocol_error)
{
    BOOST_TEST(
        only_event(client_frame(0x2, pattern(125), opts().length_in(length_form::bits16))) ==
        failure(1002)
    );
    BOOST_TEST(
        only_event(client_frame(0x2, "", opts().length_in(length_form::bits16))) == failure(1002)
    );
    BOOST_TEST(
        only_event(client_frame(0x2, pattern(65535), opts().length_in(length_form::bits64))) ==
        failure(1002)
    );
    BOOST_TEST(
        only_event(client_frame(0x2, pattern(10), opts().length_in(length_form::bits64))) ==
        failure(1002)
    );
    // The smallest lengths of the long forms are fine.
    BOOST_TEST(
        only_event(client_frame(0x2, pattern(126), opts().length_in(length_form::bits16))) ==
        message(pattern(126), false)
    );
}

BOOST_AUTO_TEST_CASE(length_with_the_top_bit_set_is_a_protocol_error)
{
    const std::string header = client_frame(0x2, "", opts().declaring(1ULL << 63));
    BOOST_TEST_REQUIRE(header.size() == 14u);
    BOOST_TEST(only_event(header) == failure(1002));
    const std::string all_ones = client_frame(0x2, "", opts().declaring(~0ULL));
    BOOST_TEST(only_event(all_ones) == failure(1002));
}

BOOST_AUTO_TEST_CASE(failure_shows_as_soon_as_the_first_two_bytes_do)
{
    struct early_case
    {
        const char* what;
        std::string prefix; // frames that go before, accepted
        std::string frame;
    };
    const std::string open = client_frame(0x1, "a", opts().not_final());
    for (const auto& c : {
             early_case{"unmasked", "", client_frame(0x1, "Hello", opts().unmasked())},
             early_case{"rsv", "", client_frame(0x1, "Hello", opts().reserved(0x40))},
             early_case{"opcode", "", client_frame(0x3, "Hello")},
             early_case{"fragmented ping", "", client_frame(0x9, "Hello", opts().not_final())},
             early_case{"long ping", "", client_frame(0x9, pattern(200))},
             early_case{"lone continuation", "", client_frame(0x0, "Hello")},
             early_case{"text in a message", open, client_frame(0x1, "Hello")},
         }) {
        BOOST_TEST_CONTEXT(c.what)
        {
            frame_reader reader(1024);
            std::string_view in = c.prefix;
            while (!in.empty())
                BOOST_TEST_REQUIRE((reader.next(in).what == kind::need_more));
            in = std::string_view(c.frame).substr(0, 2);
            const read_event ev = reader.next(in);
            BOOST_TEST((ev.what == kind::fail));
            BOOST_TEST(ev.code == 1002);
        }
    }
}

BOOST_AUTO_TEST_CASE(one_byte_is_not_enough_to_judge)
{
    // The mask bit is in the second byte: with one byte nothing is known yet.
    frame_reader reader(1024);
    const std::string frame = client_frame(0x1, "Hello", opts().unmasked());
    std::string_view in = std::string_view(frame).substr(0, 1);
    BOOST_TEST((reader.next(in).what == kind::need_more));
    BOOST_TEST(in.empty());
    in = std::string_view(frame).substr(1, 1);
    BOOST_TEST((reader.next(in).what == kind::fail));
}

// --- message size ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(message_of_exactly_the_limit_is_accepted)
{
    BOOST_TEST(only_event(client_frame(0x2, pattern(100)), 100) == message(pattern(100), false));
    BOOST_TEST(
        only_event(
            client_frame(0x1, std::string(60, 'a'), opts().not_final()) +
                client_frame(0x0, std::string(40, 'b')),
            100
        ) == message(std::string(60, 'a') + std::string(40, 'b'))
    );
}

BOOST_AUTO_TEST_CASE(single_frame_over_the_limit_fails_with_1009)
{
    BOOST_TEST(only_event(client_frame(0x2, pattern(101)), 100) == failure(1009));
    BOOST_TEST(only_event(client_frame(0x1, std::string(70000, 'a')), 65536) == failure(1009));
}

BOOST_AUTO_TEST_CASE(fragments_adding_up_over_the_limit_fail_with_1009)
{
    BOOST_TEST(
        only_event(
            client_frame(0x1, std::string(60, 'a'), opts().not_final()) +
                client_frame(0x0, std::string(41, 'b')),
            100
        ) == failure(1009)
    );
    BOOST_TEST(
        only_event(
            client_frame(0x2, pattern(50), opts().not_final()) +
                client_frame(0x0, pattern(50), opts().not_final()) + client_frame(0x0, pattern(1)),
            100
        ) == failure(1009)
    );
}

BOOST_AUTO_TEST_CASE(oversized_frame_fails_on_its_header_alone)
{
    // A client announcing a huge frame is refused before it sends the payload.
    frame_reader reader(1 << 20);
    const std::string header = client_frame(0x2, "", opts().declaring(1ULL << 40));
    std::string_view in = header;
    const read_event ev = reader.next(in);
    BOOST_TEST((ev.what == kind::fail));
    BOOST_TEST(ev.code == 1009);
}

BOOST_AUTO_TEST_CASE(limit_counts_message_bytes_not_control_frames)
{
    // A ping between fragments does not count toward the message.
    BOOST_TEST(
        feed_whole(
            client_frame(0x1, std::string(90, 'a'), opts().not_final()) +
                client_frame(0x9, pattern(50)) + client_frame(0x0, std::string(10, 'b')),
            100
        ) == (std::vector<recorded>{
                 {kind::ping, 0, {}, pattern(50), false},
                 message(std::string(90, 'a') + std::string(10, 'b')),
             })
    );
}

// --- UTF-8 -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_utf8_text_message_fails_with_1007)
{
    for (const std::string_view bad : {
             std::string_view("a\xC0\xAF"),        // overlong '/'
             std::string_view("\xED\xA0\x80z"),    // UTF-16 surrogate U+D800
             std::string_view("\xF4\x90\x80\x80"), // above U+10FFFF
             std::string_view("lone \x80 byte"),   // stray continuation byte
             std::string_view("cut \xE2\x82"),     // truncated at the end
             std::string_view("\xFF"),             // never valid
         }) {
        BOOST_TEST_CONTEXT("text " << message(std::string(bad)))
        {
            BOOST_TEST(only_event(client_frame(0x1, bad)) == failure(1007));
            // The same bytes as a fragmented message.
            BOOST_TEST(
                only_event(
                    client_frame(0x1, bad.substr(0, 1), opts().not_final()) +
                    client_frame(0x0, bad.substr(1))
                ) == failure(1007)
            );
        }
    }
}

BOOST_AUTO_TEST_CASE(valid_multibyte_utf8_text_is_accepted)
{
    const std::string_view good =
        "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E \xF4\x8F\xBF\xBF \xED\x9F\xBF";
    BOOST_TEST(only_event(client_frame(0x1, good)) == message(std::string(good)));
}

BOOST_AUTO_TEST_CASE(utf8_character_split_across_fragments_is_accepted)
{
    // U+1D11E (F0 9D 84 9E) cut after each of its first three bytes.
    const std::string_view clef = "\xF0\x9D\x84\x9E";
    for (std::size_t cut = 1; cut < 4; ++cut) {
        BOOST_TEST_CONTEXT("cut after byte " << cut)
        {
            BOOST_TEST(
                only_event(
                    client_frame(0x1, clef.substr(0, cut), opts().not_final()) +
                    client_frame(0x0, clef.substr(cut))
                ) == message(std::string(clef))
            );
        }
    }
}

// --- state the connection reads ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(mid_message_follows_frames_and_fragments)
{
    frame_reader reader(1024);
    BOOST_TEST(!reader.mid_message());

    const std::string frame = client_frame(0x1, "Hello");
    std::string_view in = std::string_view(frame).substr(0, 1);
    BOOST_TEST((reader.next(in).what == kind::need_more));
    BOOST_TEST(reader.mid_message()); // one header byte

    in = std::string_view(frame).substr(1, 3);
    BOOST_TEST((reader.next(in).what == kind::need_more));
    BOOST_TEST(reader.mid_message()); // part of the mask key

    in = std::string_view(frame).substr(4, 4);
    BOOST_TEST((reader.next(in).what == kind::need_more));
    BOOST_TEST(reader.mid_message()); // header done, part of the payload

    in = std::string_view(frame).substr(8);
    BOOST_TEST((reader.next(in).what == kind::message));
    BOOST_TEST(!reader.mid_message()); // the message is complete

    const std::string ping = client_frame(0x9, "p");
    in = ping;
    BOOST_TEST((reader.next(in).what == kind::ping));
    BOOST_TEST(!reader.mid_message()); // a control frame outside a message

    const std::string first = client_frame(0x1, "a", opts().not_final());
    in = first;
    BOOST_TEST((reader.next(in).what == kind::need_more));
    BOOST_TEST(reader.mid_message()); // between fragments, every byte of them consumed

    const std::string last = client_frame(0x0, "b");
    in = last;
    BOOST_TEST((reader.next(in).what == kind::message));
    BOOST_TEST(!reader.mid_message());
}

BOOST_AUTO_TEST_CASE(release_message_empties_it_and_frees_its_memory)
{
    frame_reader reader(1 << 20);
    const std::string big = client_frame(0x1, std::string(10000, 'x'));
    std::string_view in = big;
    BOOST_TEST_REQUIRE((reader.next(in).what == kind::message));
    BOOST_TEST(reader.message().size() == 10000u);
    reader.release_message();
    BOOST_TEST(reader.message().empty());
    BOOST_TEST(reader.message().capacity() < 10000u);

    // The reader goes on as before.
    const std::string next = client_frame(0x1, "again");
    in = next;
    BOOST_TEST((reader.next(in).what == kind::message));
    BOOST_TEST(reader.message() == "again");
}

BOOST_AUTO_TEST_CASE(each_event_consumes_only_its_own_frame)
{
    // The bytes after an event stay in the input for the next call.
    frame_reader reader(1024);
    const std::string first = client_frame(0x1, "one");
    const std::string stream = first + client_frame(0x9, "two");
    std::string_view in = stream;
    BOOST_TEST((reader.next(in).what == kind::message));
    BOOST_TEST(in.size() == stream.size() - first.size());
    BOOST_TEST(reader.message() == "one");
    BOOST_TEST((reader.next(in).what == kind::ping));
    BOOST_TEST(in.empty());
    BOOST_TEST(reader.control_payload() == "two");
    // The message survives a later control frame.
    BOOST_TEST(reader.message() == "one");
}

BOOST_AUTO_TEST_CASE(messages_past_the_free_size_share_one_budget)
{
    // Messages up to 100 bytes are free; up to 400 with room in a budget of 500 shared
    // by every reader.
    large_message_budget budget(500);
    frame_reader a(400, 100, budget);
    frame_reader b(400, 100, budget);
    frame_reader c(400, 100, budget);
    const std::string free_size(100, 'a');
    BOOST_TEST(feed(a, {client_frame(0x1, free_size)}).back() == message(free_size));
    a.release_message();
    BOOST_TEST(budget.used() == 0u);
    // A fragmented message takes the budget as it grows: 300 past the free 100.
    const auto first = client_frame(0x1, std::string(200, 'a'), opts().not_final());
    BOOST_TEST(feed(a, {first}).empty());
    BOOST_TEST(budget.used() == 100u);
    BOOST_TEST(feed(a, {client_frame(0x0, std::string(200, 'a'))}).size() == 1u);
    BOOST_TEST(budget.used() == 300u);
    // b may take the last 200; c finds none left and is told to try later.
    BOOST_TEST(feed(b, {client_frame(0x1, std::string(300, 'b'))}).size() == 1u);
    BOOST_TEST(budget.used() == 500u);
    BOOST_TEST(feed(c, {client_frame(0x1, std::string(101, 'c'))}).back() == failure(1013));
    // Released messages give it back; so does a reader that goes away.
    a.release_message();
    BOOST_TEST(budget.used() == 200u);
    {
        frame_reader d(400, 100, budget);
        BOOST_TEST(feed(d, {client_frame(0x1, std::string(400, 'd'))}).size() == 1u);
        BOOST_TEST(budget.used() == 500u);
    }
    BOOST_TEST(budget.used() == 200u);
    // Past the reader's own limit is still too big, budget or not.
    BOOST_TEST(feed(b, {client_frame(0x1, std::string(401, 'b'))}).back() == failure(1009));
    BOOST_TEST(budget.used() == 0u);
}

} // namespace
} // namespace tokenrelay::ws
