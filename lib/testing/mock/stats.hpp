#pragma once
// Sans-I/O: the mock's counters (served by /_mock/stats), the waiters of /_mock/wait and the
// fail_first attempt memory. Single-threaded: the server runs one io_context thread.

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::mock {

enum class counter { requests, open, completed, aborted };

/// "requests", "open", "completed" or "aborted" as named in the wait endpoint's query.
std::optional<counter> counter_from_name(std::string_view name) noexcept;

class stats
{
public:
    using waiter_list = std::list<std::function<void()>>;

    /// How a response that was counted as open ended.
    enum class outcome { completed, aborted };

    /// A response in progress; its `open` count is dropped on `finish`. A reset between
    /// start and finish leaves the counters alone, so `open` never goes negative.
    struct response_ticket
    {
        std::uint64_t generation = 0;
        bool finished = false;
    };

    /// Records one chat-completions request; returns its number (1-based, since the last
    /// reset), used for the "mock-<n>" ids.
    std::uint64_t on_request(std::string authorization, boost::json::value body);

    /// Records the headers of an Anthropic-format (`.../messages`) request, called beside
    /// on_request. From then on the stats JSON also has `last_api_key` and
    /// `last_anthropic_version`; before, it keeps the OpenAI-only shape tests compare exactly.
    void on_anthropic_headers(std::string api_key, std::string version);

    /// Keeps the raw bytes of the request body beside on_request, for /_mock/last_body;
    /// they are not part of the stats JSON.
    void on_raw_body(std::string raw) { last_raw_body_ = std::move(raw); }

    /// The last request's body byte for byte; nullopt before the first request.
    const std::optional<std::string>& last_raw_body() const noexcept { return last_raw_body_; }

    response_ticket start_response();
    void finish_response(response_ticket& t, outcome o);

    /// True while the request whose last message is `content` should still fail: the first
    /// `limit` calls with the same content return true.
    bool should_fail(const std::string& content, std::size_t limit);

    /// Zeroes the counters and forgets the fail_first attempts (the last request's
    /// authorization and body, parsed and raw, are kept).
    void reset();

    std::int64_t value(counter c) const noexcept;

    /// The /_mock/stats JSON.
    std::string to_json() const;

    /// `wake` is called after every counter change until the returned handle is removed.
    waiter_list::iterator add_waiter(std::function<void()> wake);
    void remove_waiter(waiter_list::iterator it);

private:
    void notify();

    std::int64_t requests_ = 0;
    std::int64_t open_ = 0;
    std::int64_t completed_ = 0;
    std::int64_t aborted_ = 0;
    std::uint64_t generation_ = 0;
    std::string last_authorization_;
    std::optional<std::string> last_api_key_;
    std::string last_anthropic_version_;
    boost::json::value last_body_;
    std::optional<std::string> last_raw_body_;
    std::map<std::string, std::size_t> attempts_;
    waiter_list waiters_;
};

} // namespace tokenrelay::mock
