#include <tokenrelay/core/stream_redactor.hpp>

#include <algorithm>

namespace tokenrelay {
namespace {

std::size_t common_prefix(std::string_view a, std::string_view b) noexcept
{
    const auto n = std::min(a.size(), b.size());
    std::size_t i = 0;
    while (i < n && a[i] == b[i])
        ++i;
    return i;
}

} // namespace

stream_redactor::stream_redactor(std::string_view secret)
    : secret_(secret), min_run_(std::clamp<std::size_t>(secret.size() / 2, 1, usual_min_run))
{}

void stream_redactor::close_run(std::size_t length)
{
    // A long run never goes out, not even the part of it that is held.
    if (length >= min_run_)
        out_.append(replacement);
    run_ = 0;
    run_hidden_ = false;
}

std::string_view stream_redactor::push(std::string_view piece)
{
    if (secret_.empty() || (run_ == 0 && piece.find(secret_[0]) == std::string_view::npos))
        return piece;
    out_.clear();
    std::size_t i = 0;

    // A run open at the end of the text so far: does the piece carry it on?
    if (run_ > 0) {
        const auto c = common_prefix(piece, std::string_view(secret_).substr(run_));
        const auto length = run_ + c;
        if (c == piece.size() && length < secret_.size()) {
            run_ = length;
            if (run_ < min_run_)
                out_.append(piece);
            else
                run_hidden_ = true; // held: nothing of the piece goes out yet
            return out_;
        }
        // The run ends in this piece (or completes the secret). Its unsent part is the
        // piece's first c characters; a short run's characters go out as they are.
        if (length < min_run_ && !run_hidden_)
            out_.append(piece.substr(0, c));
        close_run(length);
        i = c;
    }

    while (i < piece.size()) {
        const auto p = piece.find(secret_[0], i);
        if (p == std::string_view::npos) {
            out_.append(piece.substr(i));
            break;
        }
        out_.append(piece.substr(i, p - i));
        const auto m = common_prefix(piece.substr(p), secret_);
        if (p + m == piece.size() && m < secret_.size()) {
            // Open at the end of the piece: held when already long, else sent.
            run_ = m;
            if (m >= min_run_)
                run_hidden_ = true;
            else
                out_.append(piece.substr(p));
            break;
        }
        if (m >= min_run_) {
            out_.append(replacement);
            i = p + m;
        } else {
            // Not the secret here; it may still start at the next character.
            out_.push_back(piece[p]);
            i = p + 1;
        }
    }
    return out_;
}

std::string_view stream_redactor::flush()
{
    out_.clear();
    if (run_ > 0 && run_hidden_)
        close_run(run_);
    run_ = 0;
    run_hidden_ = false;
    return out_;
}

} // namespace tokenrelay
