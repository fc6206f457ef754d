// Event stream interpretation per the HTML standard, section 9.2.6 ("Interpreting an
// event stream"): lines end in CRLF, LF or CR; a blank line dispatches.
#include <tokenrelay/sse/parser.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace tokenrelay::sse {

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// Consumed bytes are only moved out once there are enough of them to pay for the move.
constexpr std::size_t compact_threshold = 4096;

// The first CR or LF at or after `from`, or npos. Two memchr passes (the second only up
// to the first LF) beat a byte loop: this runs for every upstream line.
std::size_t find_line_end(std::string_view s, std::size_t from) noexcept
{
    if (from >= s.size())
        return std::string_view::npos;
    const char* const begin = s.data() + from;
    const auto n = s.size() - from;
    const auto* lf = static_cast<const char*>(std::memchr(begin, '\n', n));
    const auto until = lf ? static_cast<std::size_t>(lf - begin) : n;
    const auto* cr = static_cast<const char*>(std::memchr(begin, '\r', until));
    const char* const end = cr ? cr : lf;
    return end ? static_cast<std::size_t>(end - s.data()) : std::string_view::npos;
}

} // namespace

parser::parser(std::size_t max_line_bytes, std::size_t max_event_bytes)
    : max_line_bytes_(max_line_bytes), max_event_bytes_(max_event_bytes)
{}

void parser::feed(std::string_view bytes)
{
    if (!error_.empty() || overflow_) {
        // Either unusable already, or the pending line is known to be too long and
        // next() will say so: keeping more of it would only grow memory.
        return;
    }
    // The standard strips one BOM at stream start; it may arrive split across feeds.
    while (!bom_checked_ && !bytes.empty()) {
        if (bytes.front() == utf8_bom[bom_matched_]) {
            bytes.remove_prefix(1);
            if (++bom_matched_ == utf8_bom.size()) {
                bom_checked_ = true;
            }
        } else {
            buffer_.append(utf8_bom.substr(0, bom_matched_));
            bom_checked_ = true;
        }
    }
    compact();

    // Bound memory at feed time: of an unterminated line only max_line_bytes_ + 1 bytes
    // are kept, enough for next() to report it once the complete lines before it are out.
    std::size_t tail_length = 0;
    auto const last_end = bytes.find_last_of("\r\n");
    if (last_end == std::string_view::npos) {
        tail_length = buffer_.size() - tail_start_ + bytes.size();
    } else {
        tail_start_ = buffer_.size() + last_end + 1;
        tail_length = bytes.size() - last_end - 1;
    }
    if (tail_length > max_line_bytes_) {
        bytes.remove_suffix(tail_length - max_line_bytes_ - 1);
        overflow_ = true;
    }
    buffer_.append(bytes);
}

parse_status parser::next(event& out)
{
    if (!error_.empty()) {
        return parse_status::error;
    }
    for (;;) {
        std::string_view line;
        if (!take_line(line)) {
            if (overflow_ || buffer_.size() - pos_ > max_line_bytes_) {
                fail("SSE line longer than " + std::to_string(max_line_bytes_) + " bytes");
                return parse_status::error;
            }
            return parse_status::need_more;
        }
        if (line.size() > max_line_bytes_) {
            fail("SSE line longer than " + std::to_string(max_line_bytes_) + " bytes");
            return parse_status::error;
        }
        if (auto const status = process_line(line, out); status != parse_status::need_more) {
            return status;
        }
    }
}

void parser::finish()
{
    if (!error_.empty()) {
        return;
    }
    // "If the file ends in the middle of an event, before the final empty line, the
    // incomplete event is not dispatched" (HTML standard 9.2.6).
    buffer_.clear();
    pos_ = scan_ = tail_start_ = 0;
    overflow_ = after_cr_ = false;
    bom_checked_ = false;
    bom_matched_ = 0;
    data_.clear();
    data_seen_ = false;
    type_.clear();
}

std::string_view parser::error_message() const noexcept
{
    return error_;
}

bool parser::take_line(std::string_view& line)
{
    if (after_cr_) {
        // A CR followed by LF is one line end even when the two arrive in separate feeds.
        if (pos_ == buffer_.size()) {
            return false;
        }
        if (buffer_[pos_] == '\n') {
            ++pos_;
        }
        after_cr_ = false;
        scan_ = std::max(scan_, pos_);
    }
    auto const at = find_line_end(std::string_view{buffer_}, scan_);
    if (at == std::string_view::npos) {
        scan_ = buffer_.size();
        return false;
    }
    line = std::string_view{buffer_}.substr(pos_, at - pos_);
    after_cr_ = buffer_[at] == '\r';
    pos_ = scan_ = at + 1;
    return true;
}

parse_status parser::process_line(std::string_view line, event& out)
{
    if (line.empty()) {
        // Dispatch. An event that never had a data field is dropped and its type reset.
        if (!data_seen_) {
            type_.clear();
            return parse_status::need_more;
        }
        out.data.swap(data_);
        data_.clear();
        data_seen_ = false;
        if (type_.empty()) {
            out.type.assign("message");
        } else {
            out.type.assign(type_);
        }
        type_.clear();
        out.id.assign(last_id_);
        return parse_status::event;
    }
    if (line.front() == ':') {
        return parse_status::need_more; // comment, e.g. a keep-alive
    }

    std::string_view field = line;
    std::string_view value;
    if (auto const colon = line.find(':'); colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
    }

    if (field == "data") {
        if (!append_data(value)) {
            return parse_status::error;
        }
    } else if (field == "event") {
        type_.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) {
            last_id_.assign(value);
        }
    }
    // `retry` only matters to a reconnecting EventSource; other fields are ignored.
    return parse_status::need_more;
}

bool parser::append_data(std::string_view value)
{
    std::size_t const separator = data_seen_ ? 1 : 0;
    if (data_.size() + separator + value.size() > max_event_bytes_) {
        fail("SSE event data longer than " + std::to_string(max_event_bytes_) + " bytes");
        return false;
    }
    if (data_seen_) {
        data_.push_back('\n');
    }
    data_.append(value);
    data_seen_ = true;
    return true;
}

void parser::fail(std::string message)
{
    error_ = std::move(message);
    // Nothing more will be parsed: give the memory back now.
    std::string{}.swap(buffer_);
    std::string{}.swap(data_);
    pos_ = scan_ = tail_start_ = 0;
}

void parser::compact()
{
    if (pos_ == 0) {
        return;
    }
    if (pos_ == buffer_.size()) {
        buffer_.clear();
    } else if (pos_ >= compact_threshold && pos_ * 2 >= buffer_.size()) {
        // Moving at most as many bytes as were consumed keeps the total cost O(n).
        buffer_.erase(0, pos_);
    } else {
        return;
    }
    scan_ -= pos_;
    tail_start_ -= pos_;
    pos_ = 0;
}

} // namespace tokenrelay::sse
