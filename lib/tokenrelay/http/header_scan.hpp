#pragma once
// Finds where a request's header block ends in the bytes read so far, and notices obsolete
// line folding (RFC 9112 section 5.2: a field line continued on a line that starts with a
// space or tab). Beast's parser unfolds such lines silently, so after parsing nothing
// shows they were there; a proxy in front may have read them differently, which is how
// one request hides another. Sans-I/O.

#include <cstddef>
#include <string_view>

namespace tokenrelay::http_server {

class header_scan
{
public:
    /// Looks at the bytes read for this request so far; each call passes all of them, the
    /// ones of the call before and maybe more. Each byte is looked at once.
    void feed(std::string_view bytes) noexcept;

    /// The header block is all there (its empty line was read), or a line ended in a bare
    /// LF, which the parser refuses as it stands.
    bool complete() const noexcept { return complete_; }
    /// A field line was folded onto the next one.
    bool obs_fold() const noexcept { return obs_fold_; }

private:
    std::size_t line_start_ = 0; // where the line being read starts
    std::size_t searched_ = 0;   // bytes already searched for its end
    bool first_line_ = true;     // the request line, which no fold can continue
    bool complete_ = false;
    bool obs_fold_ = false;
};

} // namespace tokenrelay::http_server
