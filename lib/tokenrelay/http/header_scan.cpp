#include <tokenrelay/http/header_scan.hpp>

#include <algorithm>

namespace tokenrelay::http_server {

void header_scan::feed(std::string_view bytes) noexcept
{
    while (!complete_) {
        const auto lf = bytes.find('\n', std::max(searched_, line_start_));
        if (lf == std::string_view::npos) {
            searched_ = bytes.size();
            return;
        }
        auto line = bytes.substr(line_start_, lf - line_start_);
        line_start_ = lf + 1;
        // Lines end in CRLF (RFC 9112 section 2.2); the parser refuses any other ending.
        if (!line.ends_with('\r') || line.size() == 1) {
            complete_ = true;
            return;
        }
        const char first = line.front();
        if (!first_line_ && (first == ' ' || first == '\t'))
            obs_fold_ = true;
        first_line_ = false;
    }
}

} // namespace tokenrelay::http_server
