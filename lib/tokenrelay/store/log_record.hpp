#pragma once
// One entry of a session's log as the store holds it: a Stream entry whose ID is the
// frame's seq (`<seq>-0`; an error, which shares the seq of the stream_end after it, is
// `<seq>-0` and that stream_end `<seq>-1`), so seq and ID are one thing and Redis itself
// refuses an ID at or below the last: a seq once stored is never reused. Sans-I/O.

#include <tokenrelay/store/redis_request.hpp>
#include <tokenrelay/store/resp.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::store {

enum class record_kind : char {
    user = 'u',
    user_parts = 'p', // data: the content parts' JSON of a user message with images
    token = 't',
    reasoning = 'r',
    refusal = 'f',
    end = 'e',   // data: the serialised stream_end frame
    error = 'x', // data: the serialised error frame
};

struct log_record
{
    std::uint64_t seq = 0;
    record_kind kind = record_kind::token;
    std::string message_id;
    std::string data; // text for user, token, reasoning and refusal; the frame otherwise
};

/// Appends the XADD that stores `r` in `log_key`. `after_error`: the record is a
/// stream_end right after an error of the same seq.
void push_append(
    redis_request& request, std::string_view log_key, const log_record& r, bool after_error
);

/// The records of an XRANGE (or XREAD stream) reply, in order. Throws
/// std::invalid_argument on an entry that is not a record.
std::vector<log_record> parse_records(const resp_value& xrange_reply);

} // namespace tokenrelay::store
