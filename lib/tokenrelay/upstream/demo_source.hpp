#pragma once
// The built-in demo model used when no --upstream is set (PROTOCOL.md section 6), so the
// chat page works out of the box.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/upstream/model_source.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::upstream {

class demo_source final : public model_source
{
public:
    demo_source(net::any_io_executor executor, std::chrono::milliseconds token_interval);

    /// A canned reply chosen from the last message, one word-ish token per interval,
    /// then finished{"stop"} with estimated usage. Cancellable between tokens.
    awaitable<void> stream(chat_request request, event_channel& out) override;

    /// The reply stream() would give to `request`, whole. Sans-I/O, for tests.
    static std::string reply_for(const chat_request& request);
    /// How the reply is cut into tokens: each word with the whitespace after it.
    static std::vector<std::string> split_tokens(std::string_view text);

private:
    net::any_io_executor executor_;
    std::chrono::milliseconds interval_;
};

} // namespace tokenrelay::upstream
