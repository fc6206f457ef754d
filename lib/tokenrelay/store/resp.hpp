#pragma once
// The Redis wire format, sans-I/O: commands encoded and replies decoded by hiredis's own
// codec (redisFormatCommandArgv, redisReader), with no hiredis connection, no blocking
// call and no event adapter. Whoever owns the socket feeds the bytes in and takes the
// encoded commands out (redis_connection.hpp does, on an event loop).

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::store {

/// One decoded reply, owning its data. RESP2 has five kinds; `nil` is the null bulk
/// string and the null array alike.
struct resp_value
{
    enum class kind : std::uint8_t { status, error, integer, string, nil, array };

    kind type = kind::nil;
    std::string text;                 // status, error and string
    long long integer = 0;            // integer
    std::vector<resp_value> elements; // array

    bool is_error() const noexcept { return type == kind::error; }
    bool is_nil() const noexcept { return type == kind::nil; }
    /// "OK" and the like.
    bool is_status(std::string_view s) const noexcept { return type == kind::status && text == s; }
};

/// Appends one command, its arguments binary-safe, to `out`.
void append_command(std::string& out, std::span<const std::string_view> args);

inline void append_command(std::string& out, std::initializer_list<std::string_view> args)
{
    append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

/// A stream that does not speak RESP (or a reply nested deeper than the codec takes).
class resp_protocol_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/// Decodes replies from a byte stream cut anywhere.
class reply_reader
{
public:
    reply_reader();
    ~reply_reader();
    reply_reader(const reply_reader&) = delete;
    reply_reader& operator=(const reply_reader&) = delete;

    /// Forgets everything fed so far (a new connection starts a new stream).
    void reset();
    /// Takes bytes as they came from the socket.
    void feed(std::string_view bytes);
    /// The next whole reply, or nothing until more bytes come. Throws resp_protocol_error
    /// when the stream is not RESP; the reader is then unusable (drop the connection).
    std::optional<resp_value> next();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace tokenrelay::store
