#pragma once
// Incremental server-sent events parser following the HTML standard's "event stream
// interpretation" rules. Sans-I/O: bytes in, events out, no sockets.

#include <cstddef>
#include <string>
#include <string_view>

namespace tokenrelay::sse {

struct event
{
    std::string type = "message"; // from `event:`; "message" when none was given
    std::string data;             // `data:` lines joined with "\n", final newline removed
    std::string id;               // last `id:` seen in this stream
};

enum class parse_status {
    event,     // `out` holds a complete event
    need_more, // feed more bytes
    error,     // the stream is unusable; error_message() says why
};

class parser
{
public:
    /// `max_line_bytes` bounds one line and `max_event_bytes` one event's data: a peer
    /// that sends endless bytes with no newline gets an error, not unbounded memory.
    explicit parser(std::size_t max_line_bytes = 1 << 20, std::size_t max_event_bytes = 4 << 20);

    /// Appends bytes to the parser's input. Valid in any state but `error`.
    void feed(std::string_view bytes);

    /// Parses as far as the buffered input allows and returns the next complete event,
    /// reusing `out`'s storage. Events with empty data are skipped per the standard.
    parse_status next(event& out);

    /// The input has ended. A partial last event is dropped (as the standard says); a
    /// following next() returns need_more.
    void finish();

    std::string_view error_message() const noexcept;

private:
    // implementation-defined members
    struct impl;
    std::string buffer_;
    std::size_t pos_ = 0;
    std::string data_;
    std::string type_;
    std::string last_id_;
    bool data_seen_ = false;
    bool after_cr_ = false;
    bool first_line_ = true;
    std::string error_;
    std::size_t max_line_bytes_;
    std::size_t max_event_bytes_;
};

} // namespace tokenrelay::sse
