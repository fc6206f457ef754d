#include "support/raw_socket.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace tokenrelay::test {

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline)
{
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, left.count()));
}

/// poll() on one descriptor until `deadline`; the revents, 0 on timeout.
short wait_for(int fd, short events, clock::time_point deadline)
{
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n > 0)
            return p.revents;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "poll");
    }
}

void set_int_option(int fd, int level, int name, int value)
{
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0)
        throw std::system_error(errno, std::generic_category(), "setsockopt");
}

// The test's own fixed masking key (RFC 6455 section 5.3 asks for an unpredictable one to
// protect proxies; there are none on loopback).
constexpr std::array<unsigned char, 4> mask_key{0x12, 0x34, 0x56, 0x78};

} // namespace

raw_socket::raw_socket(std::uint16_t port, options o, std::chrono::milliseconds timeout)
{
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "socket");
    try {
        // Before connect: the window scale is agreed in the SYN.
        if (o.receive_buffer > 0)
            set_int_option(fd_, SOL_SOCKET, SO_RCVBUF, o.receive_buffer);
        if (o.send_buffer > 0)
            set_int_option(fd_, SOL_SOCKET, SO_SNDBUF, o.send_buffer);
        set_int_option(fd_, IPPROTO_TCP, TCP_NODELAY, 1);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            if (errno != EINPROGRESS)
                throw std::system_error(errno, std::generic_category(), "connect");
            if (wait_for(fd_, POLLOUT, clock::now() + timeout) == 0)
                throw std::runtime_error("connect to port " + std::to_string(port) + " timed out");
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0)
                throw std::system_error(err, std::generic_category(), "connect");
        }
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

raw_socket::~raw_socket()
{
    if (fd_ >= 0)
        ::close(fd_);
}

raw_socket::raw_socket(raw_socket&& other) noexcept : fd_(std::exchange(other.fd_, -1))
{}

std::size_t raw_socket::write(std::string_view data, std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::size_t written = 0;
    while (written < data.size()) {
        const auto n =
            ::send(fd_, data.data() + written, data.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            written += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            break; // EPIPE, ECONNRESET: the peer is gone
        const auto ev = wait_for(fd_, POLLOUT, deadline);
        if (ev == 0 || (ev & (POLLERR | POLLHUP)) != 0)
            break;
    }
    return written;
}

raw_socket::status raw_socket::read_available(std::string& into)
{
    bool got = false;
    for (;;) {
        char buf[16384];
        const auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            into.append(buf, static_cast<std::size_t>(n));
            got = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return got ? status::progress : status::timeout;
        // 0: orderly shutdown; ECONNRESET and the like: the relay reset the connection.
        return status::closed;
    }
}

raw_socket::status raw_socket::read_some(std::string& into, std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    for (;;) {
        if (wait_for(fd_, POLLIN, deadline) == 0)
            return status::timeout;
        const auto s = read_available(into);
        if (s != status::timeout)
            return s;
    }
}

raw_socket::status
raw_socket::exchange(std::string& out, std::string& in, std::chrono::milliseconds timeout)
{
    const short events = out.empty() ? POLLIN : static_cast<short>(POLLIN | POLLOUT);
    const auto ev = wait_for(fd_, events, clock::now() + timeout);
    if (ev == 0)
        return status::timeout;
    bool progress = false;
    if ((ev & POLLIN) != 0 || (ev & (POLLERR | POLLHUP)) != 0) {
        const auto s = read_available(in);
        if (s == status::closed)
            return s;
        progress = s == status::progress;
    }
    if (!out.empty() && (ev & POLLOUT) != 0) {
        const auto n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            out.erase(0, static_cast<std::size_t>(n));
            progress = true;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return status::closed;
        }
    }
    return progress ? status::progress : status::timeout;
}

bool raw_socket::wait_closed(std::chrono::milliseconds timeout, std::string* into)
{
    const auto deadline = clock::now() + timeout;
    std::string sink;
    for (;;) {
        auto& buf = into ? *into : sink;
        const auto s = read_some(buf, std::chrono::milliseconds(remaining_ms(deadline)));
        if (s == status::closed)
            return true;
        if (s == status::timeout)
            return false;
        sink.clear();
    }
}

void raw_socket::close()
{
    if (fd_ >= 0)
        ::close(std::exchange(fd_, -1));
}

void raw_socket::reset()
{
    if (fd_ < 0)
        return;
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(std::exchange(fd_, -1));
}

std::string ws_client_frame(ws_opcode op, std::string_view payload, bool fin)
{
    std::string out;
    out.reserve(payload.size() + 14);
    out += static_cast<char>((fin ? 0x80 : 0x00) | static_cast<unsigned>(op));
    const auto size = payload.size();
    if (size < 126) {
        out += static_cast<char>(0x80 | size);
    } else if (size <= 0xFFFF) {
        out += static_cast<char>(0x80 | 126);
        out += static_cast<char>((size >> 8) & 0xFF);
        out += static_cast<char>(size & 0xFF);
    } else {
        out += static_cast<char>(0x80 | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out += static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xFF);
    }
    for (const auto k : mask_key)
        out += static_cast<char>(k);
    for (std::size_t i = 0; i < size; ++i)
        out += static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask_key[i % 4]);
    return out;
}

std::uint16_t ws_frame::close_code() const
{
    if (opcode != ws_opcode::close || payload.size() < 2)
        return 0;
    return static_cast<std::uint16_t>(
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])
    );
}

std::optional<ws_frame> parse_ws_frame(std::string_view buffer, std::size_t& offset)
{
    const auto b = buffer.substr(std::min(offset, buffer.size()));
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(b[i]); };
    if (b.size() < 2)
        return std::nullopt;
    std::size_t header = 2;
    std::uint64_t size = byte(1) & 0x7F;
    const bool masked = (byte(1) & 0x80) != 0;
    if (size == 126) {
        header = 4;
        if (b.size() < header)
            return std::nullopt;
        size = (std::uint64_t{byte(2)} << 8) | byte(3);
    } else if (size == 127) {
        header = 10;
        if (b.size() < header)
            return std::nullopt;
        size = 0;
        for (std::size_t i = 2; i < 10; ++i)
            size = (size << 8) | byte(i);
    }
    const std::size_t key_at = header;
    if (masked)
        header += 4;
    if (b.size() < header || b.size() - header < size)
        return std::nullopt;
    ws_frame f;
    f.fin = (byte(0) & 0x80) != 0;
    f.opcode = static_cast<ws_opcode>(byte(0) & 0x0F);
    f.payload = std::string(b.substr(header, static_cast<std::size_t>(size)));
    if (masked) {
        for (std::size_t i = 0; i < f.payload.size(); ++i)
            f.payload[i] = static_cast<char>(f.payload[i] ^ b[key_at + i % 4]);
    }
    offset += header + static_cast<std::size_t>(size);
    return f;
}

std::optional<ws_frame> take_ws_frame(std::string& buffer)
{
    std::size_t offset = 0;
    auto f = parse_ws_frame(buffer, offset);
    buffer.erase(0, offset);
    return f;
}

std::string ws_upgrade_request(std::string_view target, std::uint16_t port)
{
    // The key is the RFC 6455 section 1.3 sample: any 16 bytes in base64 will do.
    return "GET " + std::string(target) +
           " HTTP/1.1\r\n"
           "Host: 127.0.0.1:" +
           std::to_string(port) +
           "\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "\r\n";
}

raw_ws::raw_ws(
    std::uint16_t port,
    std::string_view target,
    raw_socket::options o,
    std::chrono::milliseconds timeout
)
    : timeout_(timeout), socket_(port, o, timeout)
{
    send_raw(ws_upgrade_request(target, port));
    const auto deadline = clock::now() + timeout;
    std::size_t end = std::string::npos;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        const auto s =
            socket_.read_some(buffer_, std::chrono::milliseconds(remaining_ms(deadline)));
        if (s == raw_socket::status::timeout)
            BOOST_FAIL("no upgrade answer on " << target << " in time");
        if (s == raw_socket::status::closed)
            BOOST_FAIL("the relay closed instead of upgrading " << target << ": " << buffer_);
    }
    const auto head = buffer_.substr(0, end);
    BOOST_TEST_REQUIRE(head.starts_with("HTTP/1.1 101"), "upgrade answer: " << head);
    buffer_.erase(0, end + 4);
}

void raw_ws::send(ws_opcode op, std::string_view payload, bool fin)
{
    send_raw(ws_client_frame(op, payload, fin));
}

void raw_ws::send_raw(std::string_view bytes)
{
    const auto n = socket_.write(bytes, timeout_);
    if (n != bytes.size())
        BOOST_FAIL("the relay took " << n << " of " << bytes.size() << " bytes");
}

std::optional<ws_frame> raw_ws::read_frame(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    const auto take = [this] {
        auto f = parse_ws_frame(buffer_, offset_);
        // Compacted now and then, not per frame: a backlog of small frames would otherwise
        // cost a move of the whole buffer each.
        if (offset_ == buffer_.size() || offset_ > 64 * 1024) {
            buffer_.erase(0, offset_);
            offset_ = 0;
        }
        return f;
    };
    for (;;) {
        if (auto f = take())
            return f;
        const auto s =
            socket_.read_some(buffer_, std::chrono::milliseconds(remaining_ms(deadline)));
        if (s == raw_socket::status::closed)
            return take();
        if (s == raw_socket::status::timeout)
            BOOST_FAIL("no WebSocket frame from the relay within " << timeout.count() << " ms");
    }
}

} // namespace tokenrelay::test
