#pragma once
// What one simulated client of the soak test does: a seeded random script of
// normal chats, cancels, drops with resume, upstream faults, malformed frames and
// abandoned sessions, each step checked exactly against PROTOCOL.md. Runs as a coroutine;
// failures are collected as text, never asserted from inside.

#include <tokenrelay/core/net.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenrelay::test {

enum class soak_kind : std::size_t {
    chat,             // exact text mock_words(n), seqs contiguous, reason stop
    cancel,           // reason cancelled, text a prefix
    resume_query,     // drop mid-reply, resume by query string: exact full text
    resume_frame,     // drop mid-reply, resume by a resume frame: exact full text
    upstream_500,     // mock:status=500: upstream_error, then stream_end upstream_error
    upstream_cut,     // mock:disconnect_after=K: the K words, then upstream_error
    upstream_garbage, // mock:malformed: "w0 ", then upstream_error
    upstream_stall,   // mock:stall_after=K: the K words, then timeout (--token-timeout)
    bad_frames,       // bad JSON, unknown type, bad chat: errors, the connection stays open
    abandon,          // drop mid-reply and never come back: the resume window reaps it
};
inline constexpr std::size_t soak_kind_count = 10;

std::string_view kind_name(soak_kind k);

/// Steps that ended as PROTOCOL.md says, per kind; `exact_replies` counts the complete
/// replies (chat and both resumes) whose text was compared word for word.
struct soak_tally
{
    std::array<std::int64_t, soak_kind_count> steps{};
    std::int64_t exact_replies = 0;
};

struct soak_client_result
{
    bool finished = false;
    std::string doing = "not started"; // the step in progress, for a client that hangs
    std::string failure;               // empty when every step was as expected
};

struct soak_client_options
{
    std::uint16_t port = 0;
    int index = 0;
    std::uint32_t seed = 0; // the client's script is drawn from (seed, index)
    std::chrono::steady_clock::time_point stop_at{};
    std::chrono::milliseconds op_timeout{20000};
};

/// Runs steps until `stop_at`, then closes its connection with 1000. The first step is of
/// kind index % soak_kind_count, so every kind runs when there are enough clients.
awaitable<void>
run_soak_client(soak_client_options options, soak_tally& tally, soak_client_result& result);

/// One session with one 10-token chat paced so that all warm-up clients overlap (the
/// upstream pools grow to their working size), then a normal close.
awaitable<void> run_warm_up_client(soak_client_options options, soak_client_result& result);

} // namespace tokenrelay::test
