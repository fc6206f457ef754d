#pragma once
// Parsers for the value kinds of PROTOCOL.md section 7. Each returns the value, or a
// problem phrased to follow "--flag: " in a one-line start-up error.

#include <tokenrelay/config/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::config::detail {

template <class T> struct parsed
{
    T value{};
    std::string problem; // empty when `value` holds the result

    explicit operator bool() const noexcept { return problem.empty(); }
};

/// `text` in double quotes, cut to a readable length, with quotes, backslashes and control
/// characters escaped so an echoed value can never break the error onto a second line.
std::string quote(std::string_view text);

/// ASCII letters in lower case, everything else as is.
std::string lowercase(std::string_view text);

/// Equal but for the case of ASCII letters.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Milliseconds written as seconds, the unit the flags take: 1500 -> "1.5".
std::string seconds_text(milliseconds ms);

/// The shortest decimal that reads back as `value`: 0 -> "0", 0.27 -> "0.27".
std::string decimal_text(double value);

/// Leading and trailing spaces, tabs, CR and LF removed.
std::string_view trim(std::string_view text);

/// Decimal digits only: no sign, no spaces, no base prefixes.
parsed<std::uint64_t> parse_integer(std::string_view text, std::uint64_t min, std::uint64_t max);

/// Seconds with optional decimals ("30", "0.5"), rounded to the millisecond, in
/// [min, max] milliseconds.
parsed<milliseconds> parse_seconds(std::string_view text, milliseconds min, milliseconds max);

/// A non-negative decimal ("0.27", "15", "2."): digits with at most one point, no sign or
/// exponent, at most `max`.
parsed<double> parse_decimal(std::string_view text, double max);

/// true/false, 1/0, yes/no, any case.
parsed<bool> parse_bool(std::string_view text);

/// HOST:PORT with an IPv4 address, a bracketed IPv6 address or localhost. The host is
/// returned as an IP literal without brackets (localhost as 127.0.0.1) so it can be bound
/// without a resolver.
parsed<listen_address> parse_listen(std::string_view text);

/// An http:// or https:// base URL with a host and no user info, query or fragment; the
/// scheme is lower-cased and trailing slashes are removed so "{base}/chat/completions"
/// (section 6) never doubles one.
parsed<std::string> parse_base_url(std::string_view text);

/// A browser origin (RFC 6454: scheme, host, optional port, nothing else), serialised the
/// way browsers send it in the Origin header: lower case, default port left out.
parsed<std::string> parse_origin(std::string_view text);
/// "memory", or redis://[USER@]HOST[:PORT][/DB] / rediss://…; a password in it is refused.
parsed<store_address> parse_store(std::string_view text);

/// A host name clients reach the relay by (--public-host): a DNS name or an IP address, no
/// scheme, port or path. Returned in lower case without a final dot, the form the Host
/// check compares with.
parsed<std::string> parse_host_name(std::string_view text);

/// A comma-separated list; items trimmed, none empty, duplicates dropped in order.
parsed<std::vector<std::string>> parse_list(std::string_view text, std::string_view what);

/// The whole of a regular file of at most `max_bytes`, or why it cannot be had.
parsed<std::string> read_file(const std::string& path, std::size_t max_bytes);

/// Empty when `path` names a readable regular file, else the reason it does not.
std::string check_readable_file(const std::string& path);

/// Empty when `path` names an existing directory, else the reason it does not.
std::string check_directory(const std::string& path);

/// Characters an RFC 6750 b64token may hold (a bearer token, section 2.1).
bool is_b64token(std::string_view text);

/// Printable ASCII with no spaces: safe to place in an HTTP header as is.
bool is_visible_ascii(std::string_view text);

} // namespace tokenrelay::config::detail
