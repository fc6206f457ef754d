#include <charconv>
#include <testing/loadgen/reply_check.hpp>

namespace tokenrelay::loadgen {
namespace {

bool parse_digits(std::string_view s, std::uint64_t& out) noexcept
{
    if (s.empty())
        return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

} // namespace

std::size_t reply_check::feed(std::string_view text, std::vector<std::int64_t>& stamps)
{
    const auto before = tokens_;
    while (!text.empty()) {
        const auto space = text.find(' ');
        if (space == std::string_view::npos) {
            pending_ += text;
            break;
        }
        if (pending_.empty()) {
            take_token(text.substr(0, space), stamps);
        } else {
            pending_ += text.substr(0, space);
            const std::string token = std::move(pending_);
            pending_.clear();
            take_token(token, stamps);
        }
        text.remove_prefix(space + 1);
    }
    return tokens_ - before;
}

void reply_check::take_token(std::string_view token, std::vector<std::int64_t>& stamps)
{
    const auto index_of = tokens_++;
    const auto at = token.find('@');
    std::uint64_t index = 0;
    if (token.size() < 2 || token.front() != 'w' ||
        !parse_digits(token.substr(1, at == std::string_view::npos ? at : at - 1), index) ||
        index != index_of) {
        broken_ = true;
        return;
    }
    if (at == std::string_view::npos)
        return;
    std::uint64_t stamp = 0;
    if (!parse_digits(token.substr(at + 1), stamp)) {
        broken_ = true;
        return;
    }
    stamps.push_back(static_cast<std::int64_t>(stamp));
}

} // namespace tokenrelay::loadgen
