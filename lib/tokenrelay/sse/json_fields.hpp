#pragma once
// Reading one member of an upstream event's JSON object, shared by the OpenAI and
// Anthropic decoders. Sans-I/O.

#include <boost/json/object.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace tokenrelay::sse::detail {

enum class json_field { absent, ok, wrong_type };

/// A string member. Absent and null are both "absent": servers send `"content": null`
/// next to reasoning deltas and in final chunks. `out` is left alone unless ok.
inline json_field read_string(boost::json::object const& o, std::string_view key, std::string& out)
{
    auto const* v = o.if_contains(key);
    if (v == nullptr || v->is_null())
        return json_field::absent;
    auto const* s = v->if_string();
    if (s == nullptr)
        return json_field::wrong_type;
    out.assign(s->data(), s->size());
    return json_field::ok;
}

/// A non-negative integer member that fits int64 (token counts). `out` is left alone
/// unless ok.
inline json_field read_count(boost::json::object const& o, std::string_view key, std::int64_t& out)
{
    auto const* v = o.if_contains(key);
    if (v == nullptr || v->is_null())
        return json_field::absent;
    if (auto const* i = v->if_int64(); i != nullptr && *i >= 0) {
        out = *i;
        return json_field::ok;
    }
    if (auto const* u = v->if_uint64();
        u != nullptr &&
        *u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = static_cast<std::int64_t>(*u);
        return json_field::ok;
    }
    return json_field::wrong_type;
}

} // namespace tokenrelay::sse::detail
