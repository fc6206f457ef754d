#pragma once
// Sans-I/O: checks one reply against the text mock_upstream generates (docs/mock_upstream.md:
// token i is `w<i> `, or `w<i>@<unix-micros> ` with `mock:stamp`) and collects the stamps.
// The relay may join tokens into one frame (PROTOCOL.md section 5) and a transport may split
// text anywhere, so text is buffered up to each token's closing space.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::loadgen {

class reply_check
{
public:
    /// `expected_tokens`: how many tokens the reply must have to be exact.
    explicit reply_check(std::size_t expected_tokens = 0) : expected_(expected_tokens) {}

    /// Feeds reply text; appends the stamp (Unix microseconds) of every completed stamped
    /// token to `stamps`. Returns the number of tokens completed by this text.
    std::size_t feed(std::string_view text, std::vector<std::int64_t>& stamps);

    /// Tokens completed so far (in order or not).
    std::size_t tokens() const noexcept { return tokens_; }
    /// No token out of order, malformed, or beyond the expected count so far.
    bool consistent() const noexcept { return !broken_ && tokens_ <= expected_; }
    /// The whole reply arrived exactly: every token in order, the expected count, nothing
    /// left over.
    bool exact() const noexcept { return consistent() && tokens_ == expected_ && pending_.empty(); }

private:
    void take_token(std::string_view token, std::vector<std::int64_t>& stamps);

    std::size_t expected_;
    std::size_t tokens_ = 0;
    bool broken_ = false;
    std::string pending_; // text after the last space
};

} // namespace tokenrelay::loadgen
