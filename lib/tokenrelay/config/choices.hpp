#pragma once
// The enums a flag chooses among (PROTOCOL.md section 7) and their names. Each enum is read
// from its name by parse_choice() and nowhere else; usage() names the default with the
// same table.

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/config/values.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace tokenrelay::config::detail {

template <class Enum> struct choice
{
    std::string_view name;
    Enum value;
};

inline constexpr std::array api_format_choices{
    choice<api_format>{"openai", api_format::openai},
    choice<api_format>{"anthropic", api_format::anthropic},
};

inline constexpr std::array log_level_choices{
    choice<log::level>{"debug", log::level::debug},
    choice<log::level>{"info", log::level::info},
    choice<log::level>{"warn", log::level::warn},
    choice<log::level>{"error", log::level::error},
};

inline constexpr std::array log_format_choices{
    choice<log::format>{"text", log::format::text},
    choice<log::format>{"json", log::format::json},
};

/// `text`, in any case, as one of `choices`; else the problem lists them ("expected text or
/// json, got ...").
template <class Enum, std::size_t N>
parsed<Enum> parse_choice(std::string_view text, const std::array<choice<Enum>, N>& choices)
{
    parsed<Enum> out;
    const auto lowered = lowercase(text);
    for (const auto& c : choices)
        if (c.name == lowered) {
            out.value = c.value;
            return out;
        }
    out.problem = "expected ";
    for (std::size_t i = 0; i < N; ++i) {
        if (i != 0)
            out.problem += (i + 1 == N) ? " or " : ", ";
        out.problem += choices[i].name;
    }
    out.problem += ", got " + quote(text);
    return out;
}

/// The name `value` has in `choices` (every enumerator has one).
template <class Enum, std::size_t N>
std::string_view choice_name(Enum value, const std::array<choice<Enum>, N>& choices) noexcept
{
    for (const auto& c : choices)
        if (c.value == value)
            return c.name;
    return {};
}

} // namespace tokenrelay::config::detail
