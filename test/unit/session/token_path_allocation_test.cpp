// Issue 7: the per-token path allocates nothing in steady state. This drives the sans-I/O
// pieces every token passes through, in the relay's order: SSE framing, the OpenAI
// decoder, the event that crosses the channel, the session's replay log, and the frame
// the writer serialises. Counting is done by replacing the global allocation functions
// for this test binary; only this thread's allocations inside the measured part count.

#include <tokenrelay/protocol/frame_batch.hpp>
#include <tokenrelay/session/replay_log.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>
#include <tokenrelay/sse/parser.hpp>
#include <tokenrelay/upstream/model_source.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <new>
#include <string>
#include <utility>

namespace {

thread_local std::size_t allocations = 0;

void* counted_alloc(std::size_t n)
{
    ++allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}

void* counted_aligned_alloc(std::size_t n, std::align_val_t a)
{
    ++allocations;
    const auto align = static_cast<std::size_t>(a);
    // aligned_alloc wants a size that is a multiple of the alignment.
    if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align))
        return p;
    throw std::bad_alloc();
}

} // namespace

// Every form is replaced, deletes too, so that what one form allocates another frees
// consistently (sanitizers check that allocation and release functions match).
void* operator new(std::size_t n)
{
    return counted_alloc(n);
}
void* operator new[](std::size_t n)
{
    return counted_alloc(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    ++allocations;
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept
{
    return operator new(n, t);
}
void* operator new(std::size_t n, std::align_val_t a)
{
    return counted_aligned_alloc(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a)
{
    return counted_aligned_alloc(n, a);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
    try {
        return counted_aligned_alloc(n, a);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept
{
    return operator new(n, a, t);
}
void operator delete(void* p) noexcept
{
    std::free(p);
}
void operator delete[](void* p) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    std::free(p);
}

namespace tokenrelay {
namespace {

using session::entry_kind;
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
            const auto before = allocations;
            path.relay(bytes);
            if (message >= warm_up)
                counted += allocations - before;
        }
        path.end_message();
    }
    BOOST_TEST(
        counted == 0u, counted << " allocations in " << measured * tokens_per_message << " tokens"
    );
}

// The counter sees what it should: a path that keeps a std::string per long token would
// allocate for every one.
BOOST_AUTO_TEST_CASE(the_counter_counts_this_threads_allocations)
{
    const auto before = allocations;
    std::string long_text(40, 'x');
    BOOST_TEST(allocations == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay
