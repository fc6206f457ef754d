#pragma once
// Reading typed values out of client JSON, shared by the WebSocket frame decoder and
// the OpenAI-compatible request parser so both apply the same rules. Sans-I/O.

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace tokenrelay::protocol {

/// A JSON integer as int64; doubles (even 5.0) are not integers on the wire.
std::optional<std::int64_t> as_integer(const boost::json::value& v);

/// Any JSON number as a double.
std::optional<double> as_number(const boost::json::value& v);

/// The roles a conversation turn may have (PROTOCOL.md section 2).
bool known_role(std::string_view role);

} // namespace tokenrelay::protocol
