#include <tokenrelay/sse/parser.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

// The memory tests must show that the parser's buffer stays bounded, which no public
// accessor reveals: this executable's global operator new records the largest
// single allocation while a test asks it to. Every other test is unaffected. The
// deletes stay out of line so GCC does not pair an inlined free() with operator new
// (-Wmismatched-new-delete).
namespace {
std::atomic<bool> tracking_allocations{false};
std::atomic<std::size_t> largest_allocation{0};
} // namespace

[[gnu::noinline]] void* operator new(std::size_t size)
{
    if (tracking_allocations.load(std::memory_order_relaxed)) {
        auto seen = largest_allocation.load(std::memory_order_relaxed);
        while (size > seen && !largest_allocation.compare_exchange_weak(seen, size)) {
        }
    }
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc{};
}
[[gnu::noinline]] void* operator new[](std::size_t size)
{
    return ::operator new(size);
}
[[gnu::noinline]] void* operator new(std::size_t size, std::nothrow_t const&) noexcept
{
    try {
        return ::operator new(size);
    } catch (...) {
        return nullptr;
    }
}
[[gnu::noinline]] void* operator new[](std::size_t size, std::nothrow_t const&) noexcept
{
    return ::operator new(size, std::nothrow);
}
[[gnu::noinline]] void operator delete(void* p) noexcept
{
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept
{
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::nothrow_t const&) noexcept
{
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::nothrow_t const&) noexcept
{
    std::free(p);
}

namespace tokenrelay::sse {
namespace {

struct seen_event
{
    std::string type;
    std::string data;
    std::string id;

    bool operator==(seen_event const&) const = default;
};

// Not a container, so Boost.Test prints both sides of a failed comparison.
struct event_list
{
    std::vector<seen_event> items;

    event_list() = default;
    event_list(std::initializer_list<seen_event> events) : items(events) {}
    bool empty() const noexcept { return items.empty(); }
    std::size_t size() const noexcept { return items.size(); }
    bool operator==(event_list const&) const = default;
};

// Line ends and NULs shown escaped, so a failure message stays on one line.
std::string escaped(std::string_view s)
{
    std::string out;
    for (char c : s) {
        switch (c) {
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\0':
            out += "\\0";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::ostream& operator<<(std::ostream& os, event_list const& list)
{
    os << "[";
    for (auto const& e : list.items) {
        os << "{type=\"" << escaped(e.type) << "\" data=\"" << escaped(e.data) << "\" id=\""
           << escaped(e.id) << "\"} ";
    }
    return os << "]";
}

// Pulls every complete event; the parser must then want more input, not be in error.
void drain(parser& p, event_list& into)
{
    event e;
    parse_status status;
    while ((status = p.next(e)) == parse_status::event) {
        into.items.push_back({e.type, e.data, e.id});
    }
    BOOST_TEST_REQUIRE((status == parse_status::need_more), "error: " << p.error_message());
}

event_list parse_pieces(std::vector<std::string_view> const& pieces)
{
    parser p;
    event_list events;
    for (auto piece : pieces) {
        p.feed(piece);
        drain(p, events);
    }
    p.finish();
    drain(p, events);
    return events;
}

event_list parse_whole(std::string_view stream)
{
    return parse_pieces({stream});
}

event_list parse_byte_by_byte(std::string_view stream)
{
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        pieces.push_back(stream.substr(i, 1));
    }
    return parse_pieces(pieces);
}

// A BOM, comments, a named event, multi-line data (one `data` line with no value),
// every line-end style, a dataless event whose type must not leak, an id that persists,
// and a partial last event that must be dropped.
constexpr std::string_view mixed_stream = "\xEF\xBB\xBF"
                                          ": keep-alive\r\n"
                                          "data: {\"a\":1}\r\n"
                                          "\r\n"
                                          "event: delta\n"
                                          "id: 7\n"
                                          "data: line one\r\n"
                                          "data:line two\r"
                                          "data\n"
                                          "\n"
                                          "event: no-data\r\n"
                                          "retry: 1000\r\n"
                                          "\r\n"
                                          ": comment\r"
                                          "data: after reset\r"
                                          "\r"
                                          "id: 8\n"
                                          "data: [DONE]\n"
                                          "\n"
                                          "data: partial, never dispatched\n";

event_list const mixed_expected{
    {"message", "{\"a\":1}", ""},
    {"delta", "line one\nline two\n", "7"},
    {"message", "after reset", "7"},
    {"message", "[DONE]", "8"},
};

} // namespace

BOOST_AUTO_TEST_SUITE(sse_parser)

BOOST_AUTO_TEST_CASE(mixed_stream_in_one_piece)
{
    BOOST_TEST(parse_whole(mixed_stream) == mixed_expected);
}

BOOST_AUTO_TEST_CASE(mixed_stream_split_at_every_point)
{
    for (std::size_t i = 0; i <= mixed_stream.size(); ++i) {
        BOOST_TEST_CONTEXT("split at " << i)
        {
            BOOST_TEST(
                parse_pieces({mixed_stream.substr(0, i), mixed_stream.substr(i)}) == mixed_expected
            );
        }
    }
}

BOOST_AUTO_TEST_CASE(mixed_stream_split_at_every_pair_of_points)
{
    for (std::size_t i = 0; i <= mixed_stream.size(); ++i) {
        for (std::size_t j = i; j <= mixed_stream.size(); ++j) {
            auto const events = parse_pieces(
                {mixed_stream.substr(0, i), mixed_stream.substr(i, j - i), mixed_stream.substr(j)}
            );
            // One failure per split is enough to locate a bug; don't flood the log.
            if (events != mixed_expected) {
                BOOST_TEST(events == mixed_expected, "splits at " << i << " and " << j);
                return;
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(mixed_stream_byte_by_byte)
{
    BOOST_TEST(parse_byte_by_byte(mixed_stream) == mixed_expected);
}

BOOST_AUTO_TEST_CASE(feeding_without_draining_gives_the_same_events)
{
    parser p;
    for (char c : mixed_stream) {
        p.feed(std::string_view{&c, 1});
    }
    event_list events;
    drain(p, events);
    BOOST_TEST(events == mixed_expected);
}

BOOST_AUTO_TEST_CASE(lf_crlf_and_cr_line_ends_are_equivalent)
{
    event_list const expected{
        {"message", "a\nb", ""},
        {"x", "c", "1"},
    };
    for (std::string_view eol : {"\n", "\r\n", "\r"}) {
        std::string stream;
        for (std::string_view line :
             {"data: a", "data: b", "", ": c", "event: x", "id: 1", "data: c", ""}) {
            stream.append(line).append(eol);
        }
        BOOST_TEST_CONTEXT("line end " << (eol == "\n" ? "LF" : eol == "\r" ? "CR" : "CRLF"))
        {
            BOOST_TEST(parse_whole(stream) == expected);
            BOOST_TEST(parse_byte_by_byte(stream) == expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(crlf_split_across_feeds_is_one_line_end)
{
    // Were the LF counted again it would be a blank line dispatching "a" alone.
    event_list const expected{{"message", "a\nb", ""}};
    BOOST_TEST(parse_pieces({"data: a\r", "\ndata: b\n\n"}) == expected);
    BOOST_TEST(parse_pieces({"data: a\r", "", "\n", "data: b\r", "\n\r\n"}) == expected);
}

BOOST_AUTO_TEST_CASE(cr_followed_by_cr_is_two_line_ends)
{
    BOOST_TEST(parse_pieces({"data: a\r", "\r"}) == (event_list{{"message", "a", ""}}));
    // LF then CR: two line ends, so a blank line.
    BOOST_TEST(
        parse_whole("data: a\n\rdata: b\n\n") == (event_list{
                                                     {"message", "a", ""},
                                                     {"message", "b", ""},
                                                 })
    );
}

BOOST_AUTO_TEST_CASE(bom_is_stripped_once_at_stream_start)
{
    event_list const x{{"message", "x", ""}};
    BOOST_TEST(
        parse_whole("\xEF\xBB\xBF"
                    "data: x\n\n") == x
    );
    BOOST_TEST(
        parse_byte_by_byte("\xEF\xBB\xBF"
                           "data: x\n\n") == x
    );
    // A second BOM belongs to the field name, which is then unknown.
    BOOST_TEST(parse_whole("\xEF\xBB\xBF\xEF\xBB\xBF"
                           "data: x\n\n")
                   .empty());
    // Not at stream start: part of the field name.
    BOOST_TEST(parse_whole("\n\xEF\xBB\xBF"
                           "data: x\n\n")
                   .empty());
}

BOOST_AUTO_TEST_CASE(partial_bom_is_kept_as_data)
{
    // "\xEF\xBB" then "d" is not a BOM: the two bytes must stay in the first line,
    // making its field "\xEF\xBB" "data" (ignored), so only "y" is dispatched.
    constexpr std::string_view stream = "\xEF\xBB"
                                        "data: x\n\ndata: y\n\n";
    event_list const y{{"message", "y", ""}};
    for (std::size_t i = 0; i <= stream.size(); ++i) {
        BOOST_TEST_CONTEXT("split at " << i)
        {
            BOOST_TEST(parse_pieces({stream.substr(0, i), stream.substr(i)}) == y);
        }
    }
    BOOST_TEST(
        parse_whole("\xEF"
                    "data: z\n\n\xEF\xBB\xBF:\n") == (event_list{})
    );
}

BOOST_AUTO_TEST_CASE(only_one_leading_space_is_removed)
{
    BOOST_TEST(parse_whole("data:x\n\n") == (event_list{{"message", "x", ""}}));
    BOOST_TEST(parse_whole("data: x\n\n") == (event_list{{"message", "x", ""}}));
    BOOST_TEST(parse_whole("data:  x \n\n") == (event_list{{"message", " x ", ""}}));
    BOOST_TEST(parse_whole("data:\tx\n\n") == (event_list{{"message", "\tx", ""}}));
    BOOST_TEST(parse_whole("data: a: b\n\n") == (event_list{{"message", "a: b", ""}}));
}

BOOST_AUTO_TEST_CASE(field_without_colon_has_empty_value)
{
    // `data` alone appends an empty line: the data buffer is non-empty, so it dispatches.
    BOOST_TEST(parse_whole("data\n\n") == (event_list{{"message", "", ""}}));
    BOOST_TEST(parse_whole("data:\n\n") == (event_list{{"message", "", ""}}));
    BOOST_TEST(parse_whole("data\ndata\n\n") == (event_list{{"message", "\n", ""}}));
    BOOST_TEST(parse_whole("data\ndata: x\n\n") == (event_list{{"message", "\nx", ""}}));
    // `event` alone sets an empty type, which dispatches as "message".
    BOOST_TEST(parse_whole("event: a\nevent\ndata: x\n\n") == (event_list{{"message", "x", ""}}));
}

BOOST_AUTO_TEST_CASE(events_without_data_are_not_dispatched)
{
    BOOST_TEST(parse_whole("\n\n\n").empty());
    BOOST_TEST(parse_whole(": ping\n\n: ping\r\n\r\n").empty());
    BOOST_TEST(parse_whole("event: update\n\n").empty());
    BOOST_TEST(parse_whole("id: 3\nretry: 10\nfoo: bar\n\n").empty());
    // ... but an id set there persists to the next dispatched event.
    BOOST_TEST(parse_whole("id: 3\n\ndata: x\n\n") == (event_list{{"message", "x", "3"}}));
}

BOOST_AUTO_TEST_CASE(event_type_resets_after_dispatch)
{
    BOOST_TEST(
        parse_whole("event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n") ==
        (event_list{
            {"a", "1", ""},
            {"message", "2", ""},
            {"message", "3", ""},
        })
    );
    // The last `event:` before the blank line wins.
    BOOST_TEST(parse_whole("event: a\nevent: b\ndata: 1\n\n") == (event_list{{"b", "1", ""}}));
}

BOOST_AUTO_TEST_CASE(ids_persist_and_ids_with_nul_are_ignored)
{
    using namespace std::string_view_literals;
    BOOST_TEST(
        parse_whole("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\ndata: c\n\nid\ndata: d\n\n"sv) ==
        (event_list{
            {"message", "a", "1"},
            {"message", "b", "1"},
            {"message", "c", "1"},
            {"message", "d", ""},
        })
    );
}

BOOST_AUTO_TEST_CASE(unknown_and_case_mismatched_fields_are_ignored)
{
    BOOST_TEST(
        parse_whole("Data: no\nDATA: no\nfoo: bar\ndata : no\ndata: yes\n\n") ==
        (event_list{{"message", "yes", ""}})
    );
}

BOOST_AUTO_TEST_CASE(output_event_is_reused)
{
    parser p;
    p.feed("event: a\nid: 1\ndata: long first payload\n\ndata: b\n\n");
    event e;
    BOOST_TEST((p.next(e) == parse_status::event));
    BOOST_TEST(e.data == "long first payload");
    BOOST_TEST((p.next(e) == parse_status::event));
    BOOST_TEST(e.type == "message");
    BOOST_TEST(e.data == "b");
    BOOST_TEST(e.id == "1");
    BOOST_TEST((p.next(e) == parse_status::need_more));
}

BOOST_AUTO_TEST_CASE(finish_drops_a_partial_event)
{
    parser p;
    event_list events;
    p.feed("data: a\n\ndata: b\ndata: c");
    drain(p, events);
    p.finish();
    event e;
    BOOST_TEST((p.next(e) == parse_status::need_more));
    BOOST_TEST(events == (event_list{{"message", "a", ""}}));

    // A complete line whose blank line never came is dropped as well.
    BOOST_TEST(parse_pieces({"data: x\n"}).empty());
    BOOST_TEST(parse_pieces({"event: t\ndata: x\r"}).empty());
}

BOOST_AUTO_TEST_CASE(bytes_after_finish_start_a_new_stream)
{
    parser p;
    event_list events;
    p.feed("id: 5\ndata: a\n\nevent: t\ndata: half");
    drain(p, events);
    p.finish();
    // Nothing of the dropped event survives; the id does, as in an EventSource.
    p.feed("\xEF\xBB\xBF"
           "data: b\n\n");
    drain(p, events);
    BOOST_TEST(
        events == (event_list{
                      {"message", "a", "5"},
                      {"message", "b", "5"},
                  })
    );
}

BOOST_AUTO_TEST_CASE(line_of_exactly_the_limit_is_accepted)
{
    parser p{7, 100};
    event_list events;
    for (char c : std::string_view{"data: a\ndata: b\n\n"}) {
        p.feed(std::string_view{&c, 1});
        drain(p, events);
    }
    BOOST_TEST(events == (event_list{{"message", "a\nb", ""}}));
}

BOOST_AUTO_TEST_CASE(oversize_line_is_an_error)
{
    struct test_case
    {
        std::string_view name;
        std::vector<std::string_view> pieces;
    };
    std::vector<test_case> const cases{
        {"terminated, one piece", {"data: ab\n\n"}},
        {"unterminated, one piece", {"data: ab"}},
        {"unterminated, in pieces", {"da", "ta", ": ", "a", "b"}},
        {"terminated by CR", {"data: ab\r"}},
        {"comment", {": comment\n"}},
    };
    for (auto const& tc : cases) {
        BOOST_TEST_CONTEXT(tc.name)
        {
            parser p{7, 100};
            event e;
            parse_status status = parse_status::need_more;
            for (auto piece : tc.pieces) {
                p.feed(piece);
                status = p.next(e);
            }
            BOOST_TEST((status == parse_status::error));
            BOOST_TEST(p.error_message() == "SSE line longer than 7 bytes");
        }
    }
}

BOOST_AUTO_TEST_CASE(events_before_an_oversize_line_are_delivered_first)
{
    parser p{16, 100};
    p.feed("data: a\n\ndata: b\n\n" + std::string(100, 'x'));
    event e;
    BOOST_TEST((p.next(e) == parse_status::event));
    BOOST_TEST(e.data == "a");
    BOOST_TEST((p.next(e) == parse_status::event));
    BOOST_TEST(e.data == "b");
    BOOST_TEST((p.next(e) == parse_status::error));
}

BOOST_AUTO_TEST_CASE(error_is_sticky)
{
    parser p{8, 100};
    p.feed("data: 123456789\n\n");
    event e;
    BOOST_TEST((p.next(e) == parse_status::error));
    p.feed("data: ok\n\n");
    BOOST_TEST((p.next(e) == parse_status::error));
    p.finish();
    BOOST_TEST((p.next(e) == parse_status::error));
    BOOST_TEST(p.error_message() == "SSE line longer than 8 bytes");
}

BOOST_AUTO_TEST_CASE(event_data_limit)
{
    {
        // 5 + "\n" + 4 = 10 bytes: exactly the limit.
        parser p{100, 10};
        p.feed("data: 12345\ndata: 6789\n\n");
        event e;
        BOOST_TEST((p.next(e) == parse_status::event));
        BOOST_TEST(e.data == "12345\n6789");
    }
    {
        parser p{100, 10};
        p.feed("data: 12345\ndata: 67890\n\n");
        event e;
        BOOST_TEST((p.next(e) == parse_status::error));
        BOOST_TEST(p.error_message() == "SSE event data longer than 10 bytes");
        BOOST_TEST((p.next(e) == parse_status::error));
    }
    {
        // The limit is per event: many events under it in a row are fine.
        parser p{100, 10};
        event_list events;
        for (int i = 0; i < 100; ++i) {
            p.feed("data: 0123456789\n\n");
            drain(p, events);
        }
        BOOST_TEST(events.size() == 100u);
    }
}

BOOST_AUTO_TEST_CASE(endless_line_fails_without_growing_past_the_limit)
{
    std::size_t const limit = 1 << 20;
    std::string const chunk(64 * 1024, 'x');
    std::size_t const total = 10 * 1024 * 1024;

    for (bool const call_next : {true, false}) {
        BOOST_TEST_CONTEXT((call_next ? "next() after each feed" : "only feed(), then next()"))
        {
            parser p{limit, 4 * limit};
            event e;
            p.feed("data: ");
            std::size_t fed = 6;
            std::size_t fed_at_error = 0;
            largest_allocation = 0;
            tracking_allocations = true;
            while (fed < total) {
                p.feed(chunk);
                fed += chunk.size();
                if (call_next && fed_at_error == 0 && p.next(e) == parse_status::error) {
                    fed_at_error = fed;
                }
            }
            tracking_allocations = false;
            BOOST_TEST((p.next(e) == parse_status::error));
            BOOST_TEST(p.error_message() == "SSE line longer than 1048576 bytes");
            if (call_next) {
                // Reported as soon as the line passed the limit, not at the end.
                BOOST_TEST(fed_at_error > limit);
                BOOST_TEST(fed_at_error <= limit + chunk.size());
            }
            // A parser that kept the line would have needed one 10 MB block; a string
            // holding limit + 1 bytes may have a capacity of up to twice that.
            BOOST_TEST(largest_allocation.load() <= 2 * limit + 64);
        }
    }
}

BOOST_AUTO_TEST_CASE(consumed_input_is_released)
{
    // 10 MB of events in 4 KiB pieces (events split across pieces), drained as they
    // come: the consumed prefix must be dropped, so the buffer stays near one piece
    // however long the stream runs.
    std::string const event_text = "data: " + std::string(91, 'e') + "\r\n\r\n";
    std::string stream;
    while (stream.size() < 10 * 1024 * 1024) {
        stream += event_text;
    }

    parser p;
    event e;
    std::size_t events = 0;
    largest_allocation = 0;
    tracking_allocations = true;
    for (std::size_t at = 0; at < stream.size(); at += 4096) {
        p.feed(std::string_view{stream}.substr(at, 4096));
        while (p.next(e) == parse_status::event) {
            ++events;
        }
    }
    tracking_allocations = false;
    BOOST_TEST(events == stream.size() / event_text.size());
    BOOST_TEST(largest_allocation.load() <= 64u * 1024);
}

BOOST_AUTO_TEST_CASE(many_events_fed_in_odd_chunks)
{
    // Exercises compaction of the consumed prefix across many feeds.
    std::string stream;
    event_list expected;
    for (int i = 0; i < 5000; ++i) {
        auto const n = std::to_string(i);
        stream += "id: " + n + "\r\ndata: payload " + n + "\r\ndata: second\r\n\r\n";
        expected.items.push_back({"message", "payload " + n + "\nsecond", n});
    }
    parser p;
    event_list events;
    std::size_t step = 1;
    for (std::size_t at = 0; at < stream.size(); at += step, step = step % 997 + 13) {
        p.feed(std::string_view{stream}.substr(at, step));
        drain(p, events);
    }
    BOOST_TEST(events == expected);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::sse
