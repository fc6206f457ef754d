#pragma once
// Small text rules of HTTP shared by the request checks and the static files.

#include <string_view>

namespace tokenrelay {

/// `s` without the optional whitespace (spaces and tabs, RFC 9110 section 5.6.3) around it.
inline std::string_view trim_ows(std::string_view s) noexcept
{
    const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

} // namespace tokenrelay
