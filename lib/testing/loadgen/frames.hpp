#pragma once
// Sans-I/O: the WebSocket messages of PROTOCOL.md section 2 as the load generator sees them
// (the relay's frames decoded, the client's built), plus the text of an OpenAI-compatible
// streaming request and the content of its SSE chunks.

#include <boost/json/parser.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::loadgen {

enum class frame_type { session, user, token, reasoning, stream_end, pong, error, other };

struct server_frame
{
    frame_type type = frame_type::other;
    std::string content; // token, reasoning
    std::optional<std::uint64_t>
        seq;                     // user, token, reasoning, stream_end (not from tutorial relays)
    std::string id;              // token, stream_end, error
    std::string reason;          // stream_end
    std::string code;            // error
    std::string session;         // session
    bool resumed = false;        // session
    std::uint64_t last_seq = 0;  // session
    std::uint64_t first_seq = 0; // session
};

/// Decodes relay frames; reuses one JSON parser's memory across frames.
class frame_decoder
{
public:
    /// False when `text` is not a JSON object with a string `type`.
    bool decode(std::string_view text, server_frame& out);

private:
    boost::json::parser parser_;
};

/// The chat text carrying mock_upstream's directives (docs/mock_upstream.md).
std::string chat_content(std::size_t tokens, std::size_t interval_ms, bool stamp);

/// `{"type":"chat",...}`. `tutorial`: the original tutorial's shape, with an empty
/// `context` and no `id`.
std::string chat_frame(std::string_view content, std::string_view id, bool tutorial);
std::string ping_frame(std::int64_t timestamp_ms);
std::string cancel_frame(std::string_view id);

/// The JSON body of a streaming chat-completions request (PROTOCOL.md section 6).
std::string completions_body(std::string_view model, std::string_view content);

/// What one SSE `data:` payload of a chat-completions stream holds for us.
struct sse_chunk
{
    bool done = false;   // `[DONE]`
    bool error = false;  // not JSON, or an `error` member
    std::string content; // choices[0].delta.content, empty when none
    std::string finish_reason;
};

/// Decodes `data:` payloads; reuses one JSON parser's memory.
class sse_chunk_decoder
{
public:
    sse_chunk decode(std::string_view data);

private:
    boost::json::parser parser_;
};

/// Splits an SSE byte stream into the values of its `data:` lines (the HTML standard's
/// line rules: LF, CRLF or CR; one optional space after the colon). Every line is taken as
/// its own event: the servers measured here (mock_upstream, nginx passing it through, the
/// relay) send one-line events.
class sse_lines
{
public:
    template <class F> void feed(std::string_view bytes, F&& on_data)
    {
        for (char c : bytes) {
            if (c == '\n' && last_cr_) {
                last_cr_ = false;
                continue;
            }
            last_cr_ = c == '\r';
            if (c == '\n' || c == '\r') {
                std::string_view line(line_);
                if (line.starts_with("data:")) {
                    line.remove_prefix(5);
                    if (line.starts_with(' '))
                        line.remove_prefix(1);
                    on_data(line);
                }
                line_.clear();
                continue;
            }
            line_ += c;
        }
    }

private:
    std::string line_;
    bool last_cr_ = false;
};

} // namespace tokenrelay::loadgen
