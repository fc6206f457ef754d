#pragma once
// Decodes the `data:` payload of one OpenAI-compatible chat-completions stream event.
// Sans-I/O.

#include <tokenrelay/core/chat.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::sse {

struct openai_chunk
{
    std::string content;              // choices[0].delta.content; "" when absent or null
    std::string reasoning;            // choices[0].delta.reasoning_content (or .reasoning)
    std::string refusal;              // choices[0].delta.refusal; "" when absent or null
    std::string finish_reason;        // choices[0].finish_reason; "" when absent or null
    std::optional<token_usage> usage; // top-level usage, when present and not null
    bool has_choice = false;          // choices[0] exists: not the usage-only chunk
    bool done = false;                // the payload was the literal [DONE]
    bool is_error = false;            // the payload has an `error` member (PROTOCOL.md section 6)
    std::string error_message;        // error.message, or the error member serialised

    /// Back to "nothing decoded", keeping the strings' capacity (one decode per event).
    void clear() noexcept
    {
        content.clear();
        reasoning.clear();
        refusal.clear();
        finish_reason.clear();
        usage.reset();
        has_choice = false;
        done = false;
        is_error = false;
        error_message.clear();
    }
};

class openai_decoder
{
public:
    openai_decoder();
    ~openai_decoder();

    /// Fills `out` (cleared first) from one event's data. Returns false, with why(), for
    /// a payload that is not JSON or not an object; `choices: []` and `choices: null`
    /// (usage-only chunks) are valid.
    bool decode(std::string_view data, openai_chunk& out);
    std::string_view why() const noexcept { return why_; }

private:
    struct streaming; // the streaming reader of the common shapes (openai_decoder.cpp)

    bool decode_dom(std::string_view data, openai_chunk& out);
    bool decode_json(std::string_view data, openai_chunk& out);
    bool decode_choices(boost::json::value const& choices, openai_chunk& out);
    bool decode_content(boost::json::object const& delta, openai_chunk& out);
    bool decode_usage(boost::json::value const& usage, openai_chunk& out);
    bool fail(std::string_view why);

    // One decode per SSE event is the hot path of every token: events are read by streaming_,
    // which builds no value tree. The rare shapes it hands over (a non-null `error`, a
    // member that matters given twice) are read as a value tree by parser_.
    std::unique_ptr<streaming> streaming_;

    // The fallback keeps the hot path's old guarantees (BOOST_NOTES section 7): the
    // parser keeps its internal buffers between calls and a typical chunk's value tree
    // fits in arena_, so it allocates nothing once warm either. The resource is rebuilt
    // per decode because release() alone would keep doubling its next block size.
    unsigned char arena_[4096];
    std::optional<boost::json::monotonic_resource> resource_;
    boost::json::parser parser_;
    std::string why_;
};

} // namespace tokenrelay::sse
