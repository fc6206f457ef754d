#pragma once
// The client's JSON body as the upstream gets it (PROTOCOL.md section 9): the bytes the
// client sent, with only the edits the relay must make spliced in, so every value it
// does not police (a JSON schema, a tool's parameters, numbers in their own spelling)
// reaches the upstream byte for byte. Sans-I/O.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::protocol {

/// One member of the top-level object: its key (unescaped) and where its value's text is.
struct member_span
{
    std::string key;
    std::size_t value_begin = 0;
    std::size_t value_end = 0; // one past the value's last byte
};

/// The members of the top-level object of `json`, in order; nullopt when `json` is not
/// an object. `json` must already be valid JSON (the relay parses it first).
std::optional<std::vector<member_span>> top_level_members(std::string_view json);

/// Edits to a body, applied by `apply`: members whose value is replaced and members put
/// in front of the others.
class body_edits
{
public:
    /// `value_json` replaces the value of `member` (which must be a member of the body).
    void replace(const member_span& member, std::string value_json);
    /// `"key":value_json` goes in first. `key` must need no escaping.
    void prepend(std::string_view key, std::string value_json);

    /// `body` with the edits made; `body` itself when there are none.
    std::string apply(std::string_view body) const;

private:
    struct replacement
    {
        std::size_t begin;
        std::size_t end;
        std::string text;
    };
    std::vector<replacement> replacements_;
    std::string prefix_;
};

} // namespace tokenrelay::protocol
