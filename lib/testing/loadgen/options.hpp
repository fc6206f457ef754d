#pragma once
// Sans-I/O: the load generator's command line (app/loadgen.cpp; `loadgen --help`).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::loadgen {

/// What every session does once connected.
enum class pattern {
    chat,      // chat, read the streamed reply, think, repeat until the duration ends
    idle,      // hold the connection, ping every --ping-interval
    burst,     // wait until every session is open, then all chat at once; --rounds times
    reconnect, // all chat at once, drop the connection mid-reply, resume, expect the rest
};

struct options
{
    std::string url = "ws://127.0.0.1:8080/ws"; // http://.../chat/completions with --sse
    std::size_t sessions = 100;
    double ramp = 1000;     // new sessions per second
    double duration_s = 10; // after the ramp
    double grace_s = 10;    // for replies still streaming when the duration ends
    pattern mode = pattern::chat;
    std::size_t tokens = 50;           // per reply (mock:tokens)
    std::size_t interval_ms = 20;      // between tokens (mock:interval)
    std::size_t think_ms = 5000;       // between a reply's end and the next chat
    std::size_t chats_per_session = 0; // chat pattern: close after this many (0: no limit)
    double ping_interval_s = 30;       // idle pattern
    std::size_t rounds = 2;            // burst pattern
    std::size_t spread_ms = 1000;      // burst/reconnect: chats start within this window
    std::size_t drop_after_ms = 1000;  // reconnect: drop this long after the chats start
    double resume_deadline_s = 10; // reconnect: the reply must be whole this soon after the drop
    unsigned threads = 1;
    // Sessions per loopback source address 127.0.0.x. Well below one address's ~28,000
    // ephemeral ports: connect() searches for a free port, and that search grows as the
    // range fills (19,000 connects from one address: 47% of the generator's CPU in it,
    // and it fell behind a 2,000/s ramp by seconds).
    std::size_t per_address = 4000;
    std::vector<int> relay_pids; // CPU and memory read from /proc/<pid>
    std::string json_path;
    std::string latency_csv_path; // cumulative distribution of token latency, for plots
    std::string model = "mock";
    std::string label;     // copied into the report
    bool sse = false;      // POST to an OpenAI-compatible endpoint, read SSE
    bool tutorial = false; // the relay has no session/seq (original tutorial)
    bool stamp = true;     // ask the mock for send-time stamps
    bool quiet = false;
};

struct options_result
{
    std::optional<options> value;
    std::string error; // one line naming the flag
    bool help = false;
};

options_result parse_options(std::span<const std::string_view> args);

/// `loadgen --help`.
std::string_view usage();

std::string_view pattern_name(pattern p) noexcept;

} // namespace tokenrelay::loadgen
