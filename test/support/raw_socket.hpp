#pragma once
// A plain TCP client over POSIX sockets, for clients no library would write: headers
// dribbled a line at a time, WebSocket frames built byte by byte, a peer that never reads.
// Socket buffer sizes are set before connect, so TCP pushes back as soon as the test wants.
// Every wait has a deadline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::test {

// Outside raw_socket: a nested struct with member initialisers cannot be a default
// argument of its enclosing class's members (GCC: the class is incomplete there).
struct raw_socket_options
{
    int receive_buffer = 0; // SO_RCVBUF before connect; 0: the kernel's default
    int send_buffer = 0;    // SO_SNDBUF before connect; 0: the kernel's default
};

class raw_socket
{
public:
    using options = raw_socket_options;

    /// Connects to 127.0.0.1:`port`; throws when that fails or takes longer than `timeout`.
    explicit raw_socket(
        std::uint16_t port,
        options o = {},
        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)
    );
    ~raw_socket();
    raw_socket(raw_socket&& other) noexcept;
    raw_socket& operator=(raw_socket&&) = delete;
    raw_socket(const raw_socket&) = delete;
    raw_socket& operator=(const raw_socket&) = delete;

    int fd() const noexcept { return fd_; }

    enum class status { progress, closed, timeout };

    /// Writes as much of `data` as the peer takes before `timeout`; returns the bytes
    /// written. A peer that has closed ends the write early (no exception, no SIGPIPE).
    std::size_t write(std::string_view data, std::chrono::milliseconds timeout);
    /// Waits up to `timeout` for bytes (appended to `into`) or the peer's close (EOF or
    /// reset: both are "closed").
    status read_some(std::string& into, std::chrono::milliseconds timeout);
    /// One round of both directions: waits up to `timeout` until the socket can take
    /// bytes of `out` or has bytes for `in`, then moves what it can (written bytes are
    /// removed from the front of `out`).
    status exchange(std::string& out, std::string& in, std::chrono::milliseconds timeout);
    /// Reads (keeping what arrives in `into`, when given) until the peer closes; false
    /// when it is still open after `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout, std::string* into = nullptr);

    /// Orderly close (FIN).
    void close();
    /// Abortive close (RST, SO_LINGER 0), as a crashed client or a lost network.
    void reset();

private:
    status read_available(std::string& into);

    int fd_ = -1;
};

// RFC 6455 frames, built and parsed by hand.
enum class ws_opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

/// A client-to-server frame, masked (section 5.3) with a fixed key: masking is there for
/// proxies, not secrecy, and a fixed key keeps failures reproducible.
std::string ws_client_frame(ws_opcode op, std::string_view payload, bool fin = true);

struct ws_frame
{
    ws_opcode opcode = ws_opcode::text;
    bool fin = true;
    std::string payload;

    /// For a close frame: the status code, or 0 when the frame has none.
    std::uint16_t close_code() const;
};

/// Parses one complete server frame at `offset` of `buffer` and moves `offset` past it;
/// nothing while it is partial. For reading many frames without moving the rest each time.
std::optional<ws_frame> parse_ws_frame(std::string_view buffer, std::size_t& offset);

/// Takes one complete server frame off the front of `buffer`; nothing while it is partial.
std::optional<ws_frame> take_ws_frame(std::string& buffer);

/// The upgrade request a browser would send (no Origin, so no origin check applies).
std::string ws_upgrade_request(std::string_view target, std::uint16_t port);

/// A WebSocket client over a raw_socket: frames of any shape out, frames one by one in.
class raw_ws
{
public:
    /// Connects and upgrades on `target`; fails the test unless the answer is 101.
    raw_ws(
        std::uint16_t port,
        std::string_view target = "/ws",
        raw_socket::options o = {},
        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)
    );

    raw_socket& socket() noexcept { return socket_; }

    /// Writes one frame; fails the test when the relay does not take it in time.
    void send(ws_opcode op, std::string_view payload, bool fin = true);
    /// Writes bytes as they are; fails the test when the relay does not take them in time.
    void send_raw(std::string_view bytes);
    /// The next frame, or nothing once the relay has closed the TCP connection; fails the
    /// test on timeout.
    std::optional<ws_frame> read_frame(std::chrono::milliseconds timeout);

private:
    std::chrono::milliseconds timeout_;
    raw_socket socket_;
    std::string buffer_; // bytes read; those before offset_ are taken
    std::size_t offset_ = 0;
};

} // namespace tokenrelay::test
