// Fuzzes the client frame reader (lib/tokenrelay/ws/frame_reader.hpp). The first input
// byte chooses how the rest is cut into chunks (empty ones included), as a socket may
// deliver it; the rest is fed to a reader until the first fail. Every call must make
// progress or ask for more having used up its input; a text message must be valid UTF-8
// (RFC 6455 section 8.1), no message may exceed the limit, no control payload over 125 bytes,
// a close must carry its payload's code and reason, and a fail must carry 1002, 1007 or
// 1009. Reading the same bytes in one piece must give the same events, and those must be
// the events of a plain reference reading of the stream written here.
#include "reference_utf8.hpp"
#include <tokenrelay/core/json_text.hpp>
#include <tokenrelay/ws/frame_reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tokenrelay;
using namespace tokenrelay::ws;
using kind = read_event::kind;

constexpr std::size_t max_message = 1024; // small enough for fragments to exceed

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "ws_frame_fuzz: %s\n", what);
        std::abort();
    }
}

struct recorded
{
    kind what;
    std::uint16_t code;
    std::string reason;
    std::string payload;
    bool text;

    bool operator==(const recorded&) const = default;
};

// One call's invariants; returns the event with what came with it.
recorded step(frame_reader& reader, std::string_view& in)
{
    const std::size_t before = in.size();
    const read_event ev = reader.next(in);
    check(in.size() <= before, "input grew");
    if (ev.what == kind::need_more) {
        check(in.empty(), "need_more with input left over");
        return {ev.what, ev.code, {}, {}, false};
    }
    check(in.size() < before, "an event from no new bytes");
    recorded r{ev.what, ev.code, std::string(ev.reason), {}, false};
    switch (ev.what) {
    case kind::message:
        r.payload = reader.message();
        r.text = reader.message_is_text();
        check(r.payload.size() <= max_message, "message over the limit");
        check(!r.text || is_valid_utf8(r.payload), "text message is not valid UTF-8");
        check(!reader.mid_message(), "mid_message() after a whole message");
        break;
    case kind::ping:
    case kind::pong:
        r.payload = std::string(reader.control_payload());
        check(r.payload.size() <= 125, "control payload over 125 bytes");
        break;
    case kind::close:
        r.payload = std::string(reader.control_payload());
        check(r.payload.size() <= 125, "control payload over 125 bytes");
        if (r.payload.empty()) {
            check(ev.code == close_code::no_status, "close without a code not 1005");
            check(ev.reason.empty(), "close without a code has a reason");
        } else {
            check(r.payload.size() >= 2, "close with a one-byte payload accepted");
            const auto code = static_cast<std::uint16_t>(
                (static_cast<unsigned char>(r.payload[0]) << 8) |
                static_cast<unsigned char>(r.payload[1])
            );
            check(ev.code == code, "close code not the payload's");
            check(
                ev.reason == std::string_view(r.payload).substr(2), "close reason not the payload's"
            );
            check(
                (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
                    (code >= 3000 && code <= 4999),
                "a close code a peer may not send accepted"
            );
            check(is_valid_utf8(ev.reason), "close reason is not valid UTF-8");
        }
        break;
    case kind::fail:
        check(
            ev.code == close_code::protocol_error || ev.code == close_code::invalid_payload ||
                ev.code == close_code::too_big,
            "fail with an unexpected close code"
        );
        check(!ev.reason.empty(), "fail without a reason");
        r.reason.clear(); // free text: not compared
        break;
    default:
        check(false, "unknown event kind");
    }
    return r;
}

using fuzz_reference::valid_utf8;

// The events RFC 6455 section 5 gives for the whole stream, read the plain way (all bytes
// at hand, no state carried between calls). A violation shows as soon as the bytes that
// reveal it are there: the first two header bytes, then the whole header (length form,
// size limit), then the whole frame (close payload, UTF-8 of a finished text message).
std::vector<recorded> reference(std::string_view s)
{
    std::vector<recorded> events;
    const auto fail = [&](std::uint16_t code) {
        events.push_back({kind::fail, code, {}, {}, false});
        return events;
    };
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    std::string message;
    bool text = false;
    bool in_message = false;
    std::size_t pos = 0;
    for (;;) {
        if (s.size() - pos < 2)
            return events;
        const unsigned char b0 = byte(pos);
        const unsigned char b1 = byte(pos + 1);
        const bool fin = (b0 & 0x80) != 0;
        const unsigned op = b0 & 0x0F;
        const unsigned len7 = b1 & 0x7F;
        const bool control = op >= 8;
        if ((b0 & 0x70) != 0 || !(op <= 2 || (op >= 8 && op <= 0xA)) || (b1 & 0x80) == 0)
            return fail(1002);
        if (control && (!fin || len7 > 125))
            return fail(1002);
        if (!control && (op == 0) != in_message)
            return fail(1002);
        const std::size_t extra = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        if (s.size() - pos < 2 + extra + 4)
            return events;
        std::uint64_t len = len7;
        if (extra != 0) {
            len = 0;
            for (std::size_t i = 0; i < extra; ++i)
                len = (len << 8) | byte(pos + 2 + i);
            if ((extra == 2 && len < 126) || (extra == 8 && (len <= 0xFFFF || len >> 63)))
                return fail(1002);
        }
        if (!control) {
            if (op != 0) {
                message.clear();
                text = op == 1;
            }
            if (message.size() + len > max_message)
                return fail(1009);
        }
        const std::size_t key = pos + 2 + extra;
        if (s.size() - key - 4 < len)
            return events;
        std::string payload;
        for (std::size_t i = 0; i < len; ++i)
            payload += static_cast<char>(byte(key + 4 + i) ^ byte(key + (i % 4)));
        pos = key + 4 + static_cast<std::size_t>(len);
        if (op == 0x9 || op == 0xA) {
            events.push_back({op == 0x9 ? kind::ping : kind::pong, 0, {}, payload, false});
        } else if (op == 0x8) {
            if (payload.empty()) {
                events.push_back({kind::close, close_code::no_status, {}, payload, false});
                continue;
            }
            if (payload.size() == 1)
                return fail(1002);
            const unsigned code = (static_cast<unsigned char>(payload[0]) << 8) |
                                  static_cast<unsigned char>(payload[1]);
            if (!((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                  (code >= 3000 && code <= 4999)))
                return fail(1002);
            if (!valid_utf8(std::string_view(payload).substr(2)))
                return fail(1007);
            events.push_back(
                {kind::close, static_cast<std::uint16_t>(code), payload.substr(2), payload, false}
            );
        } else {
            message += payload;
            in_message = !fin;
            if (!fin)
                continue;
            if (text && !valid_utf8(message))
                return fail(1007);
            events.push_back({kind::message, 0, {}, message, text});
        }
    }
}

// Chunk sizes from the seed byte: up to 2^(seed % 8) bytes each, zero included.
class chunker
{
public:
    explicit chunker(std::uint8_t seed) noexcept
        : limit_(std::size_t{1} << (seed & 7)), state_(0x9E3779B9u ^ seed)
    {}

    std::size_t next() noexcept
    {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return state_ % (limit_ + 1);
    }

private:
    std::size_t limit_;
    std::uint32_t state_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t seed = bytes[0];
    const bool release_each = (seed & 0x80) != 0; // as an idle connection does
    const std::string_view stream(reinterpret_cast<const char*>(bytes + 1), size - 1);

    std::vector<recorded> chunked;
    {
        frame_reader reader(max_message);
        chunker cuts(seed);
        std::string_view rest = stream;
        bool failed = false;
        while (!failed && !rest.empty()) {
            const std::size_t n = std::min(cuts.next(), rest.size());
            std::string_view in = rest.substr(0, n);
            rest.remove_prefix(n);
            do {
                recorded r = step(reader, in);
                if (r.what == kind::need_more)
                    break;
                failed = r.what == kind::fail;
                if (r.what == kind::message && release_each) {
                    reader.release_message();
                    check(reader.message().empty(), "message kept after release_message()");
                }
                chunked.push_back(std::move(r));
            } while (!failed && !in.empty());
        }
    }

    std::vector<recorded> whole;
    {
        frame_reader reader(max_message);
        std::string_view in = stream;
        while (!in.empty()) {
            recorded r = step(reader, in);
            if (r.what == kind::need_more)
                break;
            const bool failed = r.what == kind::fail;
            whole.push_back(std::move(r));
            if (failed)
                break;
        }
    }

    check(chunked == whole, "events depend on how the input is cut");
    check(whole == reference(stream), "events differ from the reference reading");
    return 0;
}
