#include <tokenrelay/protocol/json_values.hpp>

#include <limits>

namespace tokenrelay::protocol {

std::optional<std::int64_t> as_integer(const boost::json::value& v)
{
    if (v.is_int64())
        return v.get_int64();
    if (v.is_uint64() &&
        v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(v.get_uint64());
    return std::nullopt;
}

std::optional<double> as_number(const boost::json::value& v)
{
    if (v.is_double())
        return v.get_double();
    if (v.is_int64())
        return static_cast<double>(v.get_int64());
    if (v.is_uint64())
        return static_cast<double>(v.get_uint64());
    return std::nullopt;
}

bool known_role(std::string_view role)
{
    return role == "system" || role == "user" || role == "assistant";
}

} // namespace tokenrelay::protocol
