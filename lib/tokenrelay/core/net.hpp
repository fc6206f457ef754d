#pragma once
// The one alias header for the I/O layers (STYLE.md rule 7). Sans-I/O modules do not
// include it, so they stay free of Asio.

#include <boost/asio.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

namespace tokenrelay {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

template <class T = void> using awaitable = net::awaitable<T>;

/// Completion token for operations whose failure is a normal outcome (eof, closed,
/// operation_aborted, timeout): they return a tuple instead of throwing.
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// Like use_tuple, for the operations that run once per token. `co_await` on a deferred
/// operation starts it from the awaiting coroutine itself, where use_awaitable would
/// allocate a coroutine frame of its own for every call (the token path is to be
/// allocation-free). Name the operation before awaiting it: GCC 12 mishandles class-type
/// temporaries in co_await operands.
inline constexpr auto deferred_tuple = net::as_tuple(net::deferred);

/// An event loop's own executor type. A socket or timer made with it is 48 bytes smaller
/// than one with any_io_executor, and so is each operation pending on it: for what an idle
/// connection holds (memory per open session).
using loop_executor = net::io_context::executor_type;
using loop_socket = net::basic_stream_socket<tcp, loop_executor>;
using loop_timer = net::basic_waitable_timer<
    std::chrono::steady_clock,
    net::wait_traits<std::chrono::steady_clock>,
    loop_executor>;

/// Whether the calling coroutine was cancelled, from
/// `const auto state = co_await net::this_coro::cancellation_state;`. A plain function on
/// purpose: co_awaiting any awaitable in a cancelled coroutine throws operation_aborted
/// (an exception per reply), and GCC 12 miscompiles a co_await used directly as
/// an if condition.
inline bool is_cancelled(const net::cancellation_state& state)
{
    return state.cancelled() != net::cancellation_type::none;
}

} // namespace tokenrelay
