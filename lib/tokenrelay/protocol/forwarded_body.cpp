#include <tokenrelay/protocol/forwarded_body.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>

namespace tokenrelay::protocol {
namespace {

bool is_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t skip_space(std::string_view s, std::size_t i) noexcept
{
    while (i < s.size() && is_space(s[i]))
        ++i;
    return i;
}

/// One past the closing quote of the string that starts at `i`.
std::size_t skip_string(std::string_view s, std::size_t i) noexcept
{
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\')
            ++i;
        else if (s[i] == '"')
            return i + 1;
    }
    return s.size();
}

/// One past the value that starts at `i`. Valid JSON is assumed: brackets balance and
/// every string closes.
std::size_t skip_value(std::string_view s, std::size_t i) noexcept
{
    if (i >= s.size())
        return i;
    if (s[i] == '"')
        return skip_string(s, i);
    if (s[i] == '{' || s[i] == '[') {
        std::size_t depth = 0;
        while (i < s.size()) {
            const char c = s[i];
            if (c == '"') {
                i = skip_string(s, i);
                continue;
            }
            if (c == '{' || c == '[')
                ++depth;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
            ++i;
        }
        return i;
    }
    // A number, true, false or null: up to the next delimiter.
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_space(s[i]))
        ++i;
    return i;
}

/// A key's text without its quotes, escapes resolved.
std::string unescape_key(std::string_view quoted)
{
    if (quoted.find('\\') == std::string_view::npos)
        return std::string(quoted.substr(1, quoted.size() - 2));
    boost::system::error_code ec;
    const auto v = boost::json::parse(quoted, ec);
    if (ec || !v.is_string())
        return {};
    return std::string(v.get_string());
}

} // namespace

std::optional<std::vector<member_span>> top_level_members(std::string_view json)
{
    std::size_t i = skip_space(json, 0);
    if (i >= json.size() || json[i] != '{')
        return std::nullopt;
    std::vector<member_span> out;
    i = skip_space(json, i + 1);
    while (i < json.size() && json[i] == '"') {
        const auto key_end = skip_string(json, i);
        member_span m;
        m.key = unescape_key(json.substr(i, key_end - i));
        i = skip_space(json, key_end);
        if (i < json.size() && json[i] == ':')
            i = skip_space(json, i + 1);
        m.value_begin = i;
        m.value_end = skip_value(json, i);
        out.push_back(std::move(m));
        i = skip_space(json, out.back().value_end);
        if (i < json.size() && json[i] == ',')
            i = skip_space(json, i + 1);
    }
    return out;
}

void body_edits::replace(const member_span& member, std::string value_json)
{
    replacements_.push_back({member.value_begin, member.value_end, std::move(value_json)});
}

void body_edits::prepend(std::string_view key, std::string value_json)
{
    prefix_ += '"';
    prefix_ += key;
    prefix_ += "\":";
    prefix_ += value_json;
    prefix_ += ',';
}

std::string body_edits::apply(std::string_view body) const
{
    if (replacements_.empty() && prefix_.empty())
        return std::string(body);
    auto edits = replacements_;
    std::sort(edits.begin(), edits.end(), [](const auto& a, const auto& b) {
        return a.begin < b.begin;
    });
    std::string out;
    out.reserve(body.size() + prefix_.size() + 64);
    // The prefix goes right after the opening brace; the object has members (a body
    // without `messages` is refused before), so the comma it ends with is right.
    const auto open = body.find('{') + 1;
    out.append(body.substr(0, open));
    out += prefix_;
    std::size_t at = open;
    for (const auto& e : edits) {
        out.append(body.substr(at, e.begin - at));
        out += e.text;
        at = e.end;
    }
    out.append(body.substr(at));
    return out;
}

} // namespace tokenrelay::protocol
