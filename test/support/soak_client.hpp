#pragma once
// A coroutine WebSocket client for the soak test: dozens of them share one io_context on
// the test's thread. Unlike ws_client it never touches Boost.Test (an assertion that throws
// out of one coroutine would end the io_context run for all of them): every failure is a
// soak_failure exception, caught per client and reported at the end.

#include <tokenrelay/core/net.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tokenrelay::test {

struct soak_failure : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

/// One WebSocket to the relay. Every operation has the deadline given at construction,
/// scaled for the build (time_scale.hpp).
class soak_connection
{
public:
    soak_connection(
        net::any_io_executor executor, std::uint16_t port, std::chrono::milliseconds timeout
    );

    /// TCP connect and upgrade on `target`; reads nothing.
    awaitable<void> open(std::string target);
    /// The next frame as a JSON object; fails on a timeout, a close, a binary frame, bad
    /// JSON, a frame without a string `type`, or a frame that carries the upstream key.
    awaitable<boost::json::object> read();
    awaitable<void> send(const boost::json::object& frame);
    awaitable<void> send_text(std::string_view text);
    /// The close handshake with 1000 (Beast reads and discards what comes before the
    /// relay's close frame).
    awaitable<void> close();
    /// Drops the TCP connection without a close frame, as a lost network would.
    void drop();

private:
    void arm();

    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
};

/// The value of `key` when it is a string, else nothing.
std::optional<std::string_view> string_field(const boost::json::object& o, std::string_view key);
/// The value of `key` when it is an integer, else nothing.
std::optional<std::int64_t> int_field(const boost::json::object& o, std::string_view key);

} // namespace tokenrelay::test
