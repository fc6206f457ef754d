#pragma once
// Where the upstream API lives (PROTOCOL.md section 7, `--upstream URL`). Sans-I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::upstream {

struct endpoint
{
    bool tls = true;
    std::string host; // a name, or an IP literal without brackets ("::1")
    std::uint16_t port = 443;
    std::string base_path; // percent-encoded, no trailing slash; "" for the root

    bool operator==(const endpoint&) const = default;

    /// The Host header value (RFC 9110 section 7.2): IPv6 in brackets, port only when
    /// it is not the scheme's default.
    std::string host_header() const;
    /// `host_header()` with the port always shown, for messages and logs.
    std::string authority() const;
    /// Whether `host` is an IP literal: such hosts get no SNI (RFC 6066 section 3).
    bool host_is_ip() const;
};

struct endpoint_parse_result
{
    std::optional<endpoint> value;
    std::string error; // set when value is empty
};

/// Parses an absolute http:// or https:// base URL such as `https://api.deepseek.com/v1`
/// or `http://[::1]:11434/v1`. User info, a query or a fragment are refused: none of
/// them can be meant for an API base.
endpoint_parse_result parse_endpoint(std::string_view url);

} // namespace tokenrelay::upstream
