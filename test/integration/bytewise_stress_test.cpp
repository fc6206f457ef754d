// A stall hunt for the upstream read path: many replies whose every byte arrives in its own
// TCP segment (`mock:bytewise`), the most "read, nothing left, wait for readiness"
// transitions a reply can make (draining_read_buffer.hpp). A wake-up lost on that path
// leaves a read waiting for data that already came: the reply would stop until the token
// timeout, which here is far above any delay a slow or busy machine causes, and the wait
// shows as a long gap between two of a client's frames.
//
// The verdict never depends on speed: every reply must be exact, end in `stop` and carry no
// error, and no frame may take as long as half the token timeout. How many frames took
// over a second is printed, for comparing builds (the speed trick on and off) under load.
//
// TOKENRELAY_STRESS_REPLIES sets the number of replies (default 2000).

#include "support/relay_fixture.hpp"
#include "support/resume_helpers.hpp"
#include "support/soak_client.hpp"
#include <tokenrelay/core/draining_read_buffer.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr int client_count = 8;
constexpr int tokens_per_reply = 3;
// Far above any delay a loaded machine causes (a scheduling gap is milliseconds, a few
// seconds at worst under a sanitizer); a lost wake-up waits all of it.
constexpr auto token_timeout = 60s;

int reply_count()
{
    const char* v = std::getenv("TOKENRELAY_STRESS_REPLIES");
    const int n = v ? std::atoi(v) : 0;
    return n > 0 ? n : 2000;
}

struct client_tally
{
    int replies = 0;
    int slow_frames = 0; // frames that came more than a second after the one before
    steady::duration longest{};
    bool finished = false;
    std::string failure;
};

awaitable<void> run_client(std::uint16_t port, int replies, client_tally& t)
{
    try {
        soak_connection c(co_await net::this_coro::executor, port, token_timeout + 30s);
        co_await c.open("/ws");
        (void)co_await c.read(); // session
        const auto expected = mock_words(tokens_per_reply);
        const json::object chat{
            {"type", "chat"},
            {"content",
             "mock:bytewise mock:tokens=" + std::to_string(tokens_per_reply) + " hello"}};
        for (int i = 0; i < replies && t.failure.empty(); ++i) {
            co_await c.send(chat);
            std::string text;
            auto last = steady::now();
            for (;;) {
                const auto f = co_await c.read();
                const auto now = steady::now();
                t.longest = std::max(t.longest, now - last);
                if (now - last > 1s)
                    ++t.slow_frames;
                last = now;
                const auto type = string_field(f, "type");
                if (type == "token") {
                    text += string_field(f, "content").value_or("");
                    continue;
                }
                if (type == "user" && text.empty())
                    continue; // the chat's own question comes first (PROTOCOL.md section 2)
                if (type != "stream_end" || string_field(f, "reason") != "stop" || text != expected)
                    t.failure = "reply " + std::to_string(i) + ": " + json::serialize(f) +
                                " after \"" + text + "\"";
                break;
            }
            ++t.replies;
        }
        co_await c.close();
        t.finished = true;
    } catch (const std::exception& e) {
        t.failure = e.what();
    }
}

BOOST_AUTO_TEST_CASE(bytewise_replies_never_stall, *scaled_timeout(3600))
{
    const auto timeout_s = std::to_string(token_timeout / 1s);
    relay_fixture f{
        {.flags = one_address_load(
             {"--threads",
              "2",
              "--token-timeout",
              timeout_s,
              "--first-token-timeout",
              timeout_s,
              "--rate-limit",
              "0",
              "--log-level",
              "warn"}
         )}};
    const int total = reply_count();
    std::vector<client_tally> tallies(client_count);
    const auto start = steady::now();
    net::io_context ioc;
    for (int i = 0; i < client_count; ++i) {
        const int share = total / client_count + (i < total % client_count ? 1 : 0);
        net::co_spawn(ioc, run_client(f.port(), share, tallies[i]), net::detached);
    }
    ioc.run();

    int replies = 0;
    int slow = 0;
    steady::duration longest{};
    for (int i = 0; i < client_count; ++i) {
        const auto& t = tallies[i];
        BOOST_TEST((t.finished && t.failure.empty()), "client " << i << ": " << t.failure);
        replies += t.replies;
        slow += t.slow_frames;
        longest = std::max(longest, t.longest);
    }
    BOOST_TEST_MESSAGE(
        "bytewise stress (draining reads "
        << (draining_reads_enabled ? "on" : "off") << "): " << replies << " replies in "
        << (steady::now() - start) / 1ms << " ms; frames after a wait "
        << "over 1 s: " << slow << "; longest wait " << longest / 1ms << " ms"
    );
    BOOST_TEST(replies == total);
    BOOST_TEST(
        (longest < token_timeout / 2), "a frame came " << longest / 1ms << " ms after the last"
    );
}

} // namespace
} // namespace tokenrelay::test
