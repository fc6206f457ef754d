#pragma once
// Helpers for the session tests (PROTOCOL.md sections 3 and 4): the mock's reply texts,
// resume targets and frames, and a reader that follows one generation's seq numbers
// across reconnects.

#include "support/ws_client.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenrelay::test {

json::object chat_frame(std::string content);
json::object chat_frame(std::string content, json::array context);
json::object turn(std::string_view role, std::string_view content);

/// The mock's reply for `n` tokens: "w0 w1 … w<n-1> " (mock_spec).
std::string mock_words(int n);
/// Mock tokens in a text: each ends in exactly one space.
std::int64_t word_count(std::string_view text);

/// `/ws?session=<id>&last_seq=<n>` (section 3).
std::string resume_target(std::string_view session, std::int64_t last_seq);
/// `{"type":"resume","session":…,"last_seq":n}` (section 2).
json::object resume_frame(std::string_view session, std::int64_t last_seq);

/// The messages array a `mock:echo` reply carries (its text is the JSON the mock got).
json::value echoed_messages(const reply& r);

/// Follows one generation of mock tokens over one or more connections. Section 2: seqs
/// grow by exactly one per token, so a frame's seq must be the previous seq plus the
/// number of words in it; gaps, duplicates and miscounted joins all show. Problems are
/// collected as text (usable from many clients on one io_context) and checked with
/// check_clean().
class seq_follower
{
public:
    /// `last_seq`: the seq before the generation's first token.
    explicit seq_follower(std::int64_t last_seq = 0) : last_seq_(last_seq) {}

    /// Takes one frame; returns true for the stream_end. Unexpected frames are problems;
    /// the chat's `user` frame is expected before the first token, one seq above.
    bool feed(const json::object& frame);
    /// Reads until at least `words` words in all, or the stream_end (returns true then).
    bool read_words(ws_client& ws, std::int64_t words);
    /// Reads until the stream_end.
    void read_to_end(ws_client& ws);
    /// Forgets what came after `seq`, as a client that resumes from an older seq must.
    void rewind(std::int64_t seq);

    std::int64_t last_seq() const noexcept { return last_seq_; }
    std::int64_t words() const noexcept { return static_cast<std::int64_t>(words_.size()); }
    std::string text() const;
    /// Each word with its seq, in order.
    const std::vector<std::pair<std::int64_t, std::string>>& seq_words() const noexcept
    {
        return words_;
    }
    bool ended() const noexcept { return end_.has_value(); }
    const json::object& end() const;
    const std::vector<std::string>& problems() const noexcept { return problems_; }
    /// Fails the test with every problem seen.
    void check_clean() const;

private:
    std::int64_t last_seq_;
    std::vector<std::pair<std::int64_t, std::string>> words_; // (seq, "w<i> ")
    std::optional<json::object> end_;
    std::string message_id_;
    std::vector<std::string> problems_;
};

/// Checks a `session` frame of a successful resume of `session` (section 3).
void check_resumed(const json::object& frame, std::string_view session, std::int64_t last_seq);

} // namespace tokenrelay::test
