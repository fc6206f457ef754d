// Fuzzes the incremental SSE parser (lib/tokenrelay/sse/parser.hpp). The input is fed
// whole, split in two at a point taken from its first byte, and byte by byte: the three
// must give the same events and the same error, all within the parser's limits, and all
// must match a direct transcription of the HTML standard's rules (section 9.2.6).
#include <tokenrelay/sse/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tokenrelay::sse::event;
using tokenrelay::sse::parse_status;
using tokenrelay::sse::parser;

struct outcome
{
    std::vector<event> events;
    bool error = false;
    std::string last_id; // reference() only: the id buffer at the end of the input
};

bool same_events(const std::vector<event>& a, const std::vector<event>& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].type != b[i].type || a[i].data != b[i].data || a[i].id != b[i].id)
            return false;
    }
    return true;
}

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "sse_parser_fuzz: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what)
{
    if (!ok)
        fail(what);
}

// Drains every event the buffered input yields.
void drain(parser& p, outcome& out)
{
    if (out.error)
        return;
    event ev;
    for (;;) {
        switch (p.next(ev)) {
        case parse_status::event:
            out.events.push_back(ev);
            continue;
        case parse_status::need_more:
            return;
        case parse_status::error:
            check(!p.error_message().empty(), "error without a message");
            out.error = true;
            return;
        }
    }
}

// The standard's algorithm, written for clarity: the whole stream at once, no buffering
// tricks. The limits are applied where the parser documents them: a complete line longer
// than max_line, an unterminated last line longer than max_line, or event data longer
// than max_event is an error.
outcome reference(
    std::string_view in, std::size_t max_line, std::size_t max_event, std::string last_id = {}
)
{
    outcome out;
    if (in.substr(0, 3) == "\xEF\xBB\xBF")
        in.remove_prefix(3);
    std::string data;
    bool data_seen = false;
    std::string type;
    std::size_t i = 0;
    for (;;) {
        const auto end = in.find_first_of("\r\n", i);
        if (end == std::string_view::npos) {
            out.error = in.size() - i > max_line;
            out.last_id = last_id;
            return out;
        }
        const std::string_view line = in.substr(i, end - i);
        i = end + 1;
        if (in[end] == '\r' && i < in.size() && in[i] == '\n')
            ++i;
        if (line.size() > max_line) {
            out.error = true;
            return out;
        }
        if (line.empty()) {
            if (data_seen)
                out.events.push_back(event{type.empty() ? "message" : type, data, last_id});
            data.clear();
            data_seen = false;
            type.clear();
            continue;
        }
        if (line.front() == ':')
            continue;
        std::string_view field = line;
        std::string_view value;
        if (const auto colon = line.find(':'); colon != std::string_view::npos) {
            field = line.substr(0, colon);
            value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
        }
        if (field == "data") {
            if (data_seen)
                data += '\n';
            data += value;
            data_seen = true;
            if (data.size() > max_event) {
                out.error = true;
                return out;
            }
        } else if (field == "event") {
            type = value;
        } else if (field == "id" && value.find('\0') == std::string_view::npos) {
            last_id = value;
        }
    }
}

void check_event_bounds(const outcome& o, std::size_t max_line, std::size_t max_event)
{
    for (const auto& ev : o.events) {
        check(ev.data.size() <= max_event, "event data over max_event_bytes");
        check(ev.type.size() <= max_line && ev.id.size() <= max_line, "field over max_line_bytes");
        check(ev.data.find('\r') == std::string::npos, "CR inside event data");
        check(ev.type.find_first_of("\r\n") == std::string::npos, "line end inside event type");
        check(ev.id.find_first_of("\r\n") == std::string::npos, "line end inside event id");
        check(ev.id.find('\0') == std::string::npos, "NUL inside event id");
        check(!ev.type.empty(), "empty event type");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    if (size < 2)
        return 0;
    // Byte 0 picks the split point, byte 1 the limits (small, so the fuzzer reaches them).
    const std::size_t max_line = 8 + (bytes[1] & 0x0F) * 64;
    const std::size_t max_event = 8 + (bytes[1] >> 4) * 256;
    const std::string_view in(reinterpret_cast<const char*>(bytes) + 2, size - 2);
    const std::size_t split = in.size() * bytes[0] / 255;

    outcome whole;
    parser p1(max_line, max_event);
    p1.feed(in);
    drain(p1, whole);

    outcome halves;
    parser p2(max_line, max_event);
    p2.feed(in.substr(0, split));
    drain(p2, halves);
    p2.feed(in.substr(split));
    drain(p2, halves);

    outcome bytewise;
    parser p3(max_line, max_event);
    for (std::size_t i = 0; i < in.size(); ++i) {
        p3.feed(in.substr(i, 1));
        drain(p3, bytewise);
    }

    const outcome expected = reference(in, max_line, max_event);
    check(same_events(whole.events, expected.events), "whole feed differs from the standard");
    check(whole.error == expected.error, "whole feed: error differs from the standard");
    check(same_events(halves.events, whole.events), "split feed differs from whole feed");
    check(halves.error == whole.error, "split feed: error differs from whole feed");
    check(same_events(bytewise.events, whole.events), "byte-wise feed differs from whole feed");
    check(bytewise.error == whole.error, "byte-wise feed: error differs from whole feed");
    check_event_bounds(whole, max_line, max_event);

    if (whole.error) {
        event ev;
        check(p1.next(ev) == parse_status::error, "error state is not sticky");
        return 0;
    }

    // finish() drops the partial event; the same parser then reads a new stream that
    // keeps only the last event id (HTML standard: the EventSource keeps it).
    p1.finish();
    event ev;
    check(p1.next(ev) == parse_status::need_more, "event after finish()");
    outcome again;
    p1.feed(in);
    drain(p1, again);
    const outcome expected_again = reference(in, max_line, max_event, expected.last_id);
    check(same_events(again.events, expected_again.events), "second stream after finish() differs");
    check(again.error == expected_again.error, "second stream: error differs from the standard");
    return 0;
}
