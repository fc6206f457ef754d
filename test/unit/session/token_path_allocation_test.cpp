// Issue 7: the per-token path allocates nothing in steady state. This drives the sans-I/O
// pieces every token passes through, in the relay's order: SSE framing, the OpenAI
// decoder, the event that crosses the channel, the session's replay log, and the frame
// the writer serialises, with the allocation functions of this test binary counting.

#include <tokenrelay/protocol/frame_batch.hpp>
#include <tokenrelay/session/replay_log.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>
#include <tokenrelay/sse/parser.hpp>
#include <tokenrelay/upstream/model_source.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <support/counted_allocation.hpp>
#include <utility>
#include <vector>

namespace tokenrelay {
namespace {

using session::entry_kind;
using test::allocations_so_far;
using upstream::stream_event;

// What one token costs from the upstream's bytes to the client's frame.
class token_path
{
public:
    void begin_message(std::string id)
    {
        message_id_ = std::move(id);
        log_.begin_message(message_id_);
    }

    void relay(std::string_view sse_bytes)
    {
        sse_.feed(sse_bytes);
        BOOST_REQUIRE(sse_.next(event_) == sse::parse_status::event);
        BOOST_REQUIRE(decoder_.decode(event_.data, chunk_));
        stream_event ev;
        ev.type = stream_event::kind::token;
        ev.text = chunk_.content;
        // The channel moves the event into its queue and out to the receiver.
        stream_event queued(std::move(ev));
        stream_event received(std::move(queued));
        reply_ += received.text;
        log_.append_text(entry_kind::token, message_id_, received.text);
        frames_.clear();
        cursor_ = log_.collect(cursor_, 1 << 20, 1700000000000, frames_);
        BOOST_REQUIRE(frames_.size() == 1u);
        BOOST_REQUIRE(frames_[0].find(chunk_.content) != std::string::npos);
    }

    void end_message()
    {
        protocol::stream_end_fields end;
        end.id = message_id_;
        end.reason = "stop";
        log_.append_end(std::move(end));
        frames_.clear();
        cursor_ = log_.collect(cursor_, 1 << 20, 1700000000000, frames_);
        reply_.clear();
    }

private:
    sse::parser sse_;
    sse::event event_;
    sse::openai_decoder decoder_;
    sse::openai_chunk chunk_;
    session::replay_log log_;
    protocol::frame_batch frames_;
    std::uint64_t cursor_ = 0;
    std::string reply_; // the session's copy of the reply text
    std::string message_id_;
};

std::string chunk_bytes(std::string_view content)
{
    return R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,)"
           R"("model":"m","choices":[{"index":0,"delta":{"content":")" +
           std::string(content) + R"("},"finish_reason":null}]})" + "\n\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(token_path_allocation_suite)

BOOST_AUTO_TEST_CASE(a_warm_session_relays_tokens_without_allocating)
{
    constexpr int tokens_per_message = 250;
    // Tokens longer than a short string's 15 bytes, as mock_upstream's stamped ones are.
    std::vector<std::string> chunks;
    for (int i = 0; i < tokens_per_message; ++i)
        chunks.push_back(chunk_bytes("w" + std::to_string(i) + "@1732512345678901 "));

    token_path path;
    std::size_t counted = 0;
    // The first messages grow the buffers to their working size; the later ones count.
    constexpr int warm_up = 10;
    constexpr int measured = 10;
    for (int message = 0; message < warm_up + measured; ++message) {
        // Message ids as the chat page makes them, longer than a short string holds.
        path.begin_message("m" + std::to_string(1000000000000000000 + message));
        for (const auto& bytes : chunks) {
            const auto before = allocations_so_far();
            path.relay(bytes);
            if (message >= warm_up)
                counted += allocations_so_far() - before;
        }
        path.end_message();
    }
    BOOST_TEST(
        counted == 0u, counted << " allocations in " << measured * tokens_per_message << " tokens"
    );
}

// The counter sees what it should: a path that keeps a std::string per long token would
// allocate for every one.
BOOST_AUTO_TEST_CASE(the_counter_counts_allocations)
{
    const auto before = allocations_so_far();
    std::string long_text(40, 'x');
    BOOST_TEST(allocations_so_far() == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay
