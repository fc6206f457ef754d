#pragma once
// Why a store command got no reply: a boost::system category of its own, apart from the
// error frame codes in core/error.hpp.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace tokenrelay::store {

enum class connection_error {
    /// The store is marked down (refused, lost, or too slow): nothing was sent.
    down = 1,
    /// Sent, but no reply within the reply timeout; the connection is dropped.
    timeout,
    /// Sent, but the connection failed before the reply came.
    lost,
    /// The bytes that came back are not RESP.
    protocol,
    /// stop() was called.
    stopped,
};

const boost::system::error_category& connection_category() noexcept;

inline boost::system::error_code make_error_code(connection_error e) noexcept
{
    return {static_cast<int>(e), connection_category()};
}

} // namespace tokenrelay::store

template <>
struct boost::system::is_error_code_enum<tokenrelay::store::connection_error> : std::true_type
{};
