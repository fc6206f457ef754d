#pragma once
// `Authorization: Bearer TOKEN` (RFC 6750 section 2.1), the one way a request proves it
// holds a token the operator configured (--client-token, --metrics-token). Sans-I/O.

#include <string_view>

namespace tokenrelay::http_server {

/// Whether `authorization` (the header's value) is the Bearer scheme, in any case, with
/// exactly `token`. The token is compared in constant time, so the answer's timing does
/// not tell how much of a guess was right.
bool bearer_matches(std::string_view authorization, std::string_view token);

} // namespace tokenrelay::http_server
