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
    /// following next() returns need_more, and bytes fed afterwards start a new stream
    /// (the last event id is kept, as an EventSource keeps it across reconnections).
    void finish();

    std::string_view error_message() const noexcept;

private:
    bool take_line(std::string_view& line);
    parse_status process_line(std::string_view line, event& out);
    bool append_data(std::string_view value);
    void fail(std::string message);
    void compact();

    // Unparsed input is buffer_[pos_, size); consumed bytes are dropped in bulk by
    // compact() so the cost stays amortised O(n) however the input is split.
    std::string buffer_;
    std::size_t pos_ = 0;
    std::size_t scan_ = 0;       // no line end in buffer_[pos_, scan_): do not rescan it
    std::size_t tail_start_ = 0; // where the last, unterminated line starts in buffer_
    bool overflow_ = false;      // the unterminated line already exceeds max_line_bytes_
    bool after_cr_ = false;      // last line ended in CR: a following LF belongs to it
    bool bom_checked_ = false;
    std::size_t bom_matched_ = 0; // BOM bytes seen so far at stream start
    std::string data_;
    bool data_seen_ = false;
    std::string type_;
    std::string last_id_;
    std::string error_;
    std::size_t max_line_bytes_;
    std::size_t max_event_bytes_;
};

} // namespace tokenrelay::sse
