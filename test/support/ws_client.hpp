#pragma once
// A synchronous WebSocket client for integration tests: every read and write has a
// deadline, and every frame the relay sends is checked for the upstream key.

#include "support/http_client.hpp"
#include <tokenrelay/core/net.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::test {

namespace json = boost::json;

/// Everything the relay sent for one generation, up to and including its stream_end.
struct reply
{
    std::string text;                 // token contents, concatenated
    std::string reasoning;            // reasoning contents, concatenated
    std::string refusal;              // refusal contents, concatenated
    std::vector<json::object> frames; // every frame read, in order
    std::vector<json::object> tokens; // token, reasoning and refusal frames, in order
    std::vector<std::int64_t> seqs;   // their seqs, in order
    std::vector<json::object> errors; // error frames
    std::optional<json::object> user; // the chat's `user` frame, when read with the reply
    json::object end;                 // the stream_end frame
};

class ws_client
{
public:
    struct handshake_result
    {
        error_code ec;
        unsigned status = 0; // HTTP status of the upgrade answer
    };

    explicit ws_client(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
    ~ws_client();
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    /// Opens the WebSocket, reads the first frame and checks it is `session`
    /// (PROTOCOL.md section 2: always the first frame); returns it.
    json::object connect(std::uint16_t port, std::string target = "/ws", header_list headers = {});
    /// The upgrade alone: no frame read, refusals returned rather than failed.
    handshake_result
    handshake(std::uint16_t port, std::string target = "/ws", header_list headers = {});

    void send(const json::object& frame);
    void send_text(std::string_view text);
    void send_binary(std::string_view bytes);
    /// One text message split into frames of the given contents (RFC 6455 fragmentation).
    void send_fragments(const std::vector<std::string>& parts);

    /// The next frame as a JSON object; fails the test on timeout, close, a binary frame,
    /// bad JSON or a frame that contains the upstream key. Waits for a frame, for the
    /// relay's close and the timeout given at construction are scaled (time_scale.hpp).
    json::object read();
    json::object read(std::chrono::milliseconds timeout);
    /// Like read(), but nothing after `timeout` (the read stays pending for the next call).
    std::optional<json::object> try_read(std::chrono::milliseconds timeout);
    /// Reads until a frame of `type`; the frames before it go to `skipped` when given.
    json::object read_until(std::string_view type, std::vector<json::object>* skipped = nullptr);
    /// Reads one generation up to its stream_end; `so_far` are frames of it the test has
    /// already read (they count as if read here).
    reply collect_reply(
        std::chrono::milliseconds timeout = std::chrono::milliseconds(30000),
        const std::vector<json::object>& so_far = {}
    );
    /// Reads until the relay closes and checks the close code; returns the frames read
    /// before the close.
    std::vector<json::object> expect_close(
        std::uint16_t code, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)
    );

    /// A normal close handshake (1000).
    void close();
    /// Drops the TCP connection without a close frame, as a lost network would.
    void drop();

    /// Raw access for tests that need frame-level control; run it with run_until().
    websocket::stream<beast::tcp_stream>& stream();
    net::io_context& context() noexcept { return ioc_; }
    /// Runs the client's io_context until `done` or the timeout; returns `done`.
    bool run_until(const bool& done, std::chrono::milliseconds timeout);

private:
    enum class outcome { frame, timeout, failed };
    outcome next_frame(std::chrono::milliseconds timeout, std::string& text, error_code& ec);
    json::object parse_frame(const std::string& text);
    json::object read_within(std::chrono::milliseconds timeout);
    void write(std::string_view data, bool text);

    std::chrono::milliseconds timeout_;
    net::io_context ioc_;
    std::optional<websocket::stream<beast::tcp_stream>> ws_;
    beast::flat_buffer buffer_;
    bool read_pending_ = false;
    bool read_done_ = false;
    error_code read_ec_;
};

/// Checks the seq rules of PROTOCOL.md section 2 on one reply from the mock: every user,
/// token, reasoning and stream_end frame has a seq, they grow strictly, the first is above
/// `seq_before` (the user frame's, when read, is exactly one above), and stream_end's is
/// one more than the last token's. When `count_words`,
/// each frame's seq also grows by exactly the number of mock tokens in it (mock tokens are
/// "w<i> " / "r<i> ", one space each), which pins down joined frames too. Returns the
/// stream_end seq.
std::int64_t check_seqs(const reply& r, std::int64_t seq_before, bool count_words = true);

/// The number as a double, for fields a relay may write as an integer or a double.
double number(const json::value& v);
std::int64_t integer(const json::object& o, std::string_view key);
std::string string_of(const json::object& o, std::string_view key);

} // namespace tokenrelay::test
