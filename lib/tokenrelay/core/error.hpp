#pragma once
// Project error codes: one boost::system category whose values map 1:1 to the `error`
// frame codes of PROTOCOL.md section 2.

#include <boost/system/error_code.hpp>

#include <string_view>
#include <type_traits>

namespace tokenrelay {

enum class errc {
    bad_json = 1,
    bad_request,
    unknown_type,
    busy,
    rate_limited,
    session_not_found,
    upstream_error,
    timeout,
    overloaded,
    unauthorized,
    store_unavailable,
};

/// The wire name of a code, e.g. "bad_json".
std::string_view code_name(errc e) noexcept;

const boost::system::error_category& tokenrelay_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), tokenrelay_category()};
}

} // namespace tokenrelay

template <> struct boost::system::is_error_code_enum<tokenrelay::errc> : std::true_type
{};
