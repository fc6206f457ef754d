#pragma once
// Row makers for the flag table (flags.hpp), one per kind of value, and the flag groups
// whose rows make up the table. A row's setter and its shown default read the same
// relay_config member, so --help prints the default the relay starts with.

#include <tokenrelay/config/choices.hpp>
#include <tokenrelay/config/flags.hpp>
#include <tokenrelay/config/values.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::config::detail {

/// The groups, in the order usage() lists them.
std::span<const flag_spec> service_flags(); // flags_service.cpp
std::span<const flag_spec> limit_flags();   // flags_limits.cpp
std::span<const flag_spec> access_flags();  // flags_access.cpp
std::span<const flag_spec> logging_flags(); // flags_logging.cpp
std::span<const flag_spec> api_key_flags(); // flags_access.cpp

std::span<const flag_spec> test_knob_flags(); // flags_test_knobs.cpp

template <class T>
std::string set_integer(std::string_view text, std::uint64_t min, std::uint64_t max, T& out)
{
    const auto number = parse_integer(text, min, max);
    if (number)
        out = static_cast<T>(number.value);
    return number.problem;
}

/// --NAME N: an integer from `min` to `max`.
template <auto member, std::uint64_t min, std::uint64_t max>
constexpr flag_spec integer_flag(std::string_view name, std::string_view help, bool hidden = false)
{
    return {
        .name = name,
        .metavar = "N",
        .help = help,
        .hidden = hidden,
        .apply = [](relay_config& c,
                    std::string_view v) { return set_integer(v, min, max, c.*member); },
        .show = [](const relay_config& c) { return std::to_string(c.*member); },
        .unset = {},
    };
}

/// --NAME S: seconds with decimals, from `min_ms` to `max_ms` milliseconds.
template <auto member, milliseconds::rep min_ms, milliseconds::rep max_ms>
constexpr flag_spec seconds_flag(std::string_view name, std::string_view help, bool hidden = false)
{
    return {
        .name = name,
        .metavar = "S",
        .help = help,
        .hidden = hidden,
        .apply =
            [](relay_config& c, std::string_view v) {
                const auto duration = parse_seconds(v, milliseconds{min_ms}, milliseconds{max_ms});
                if (duration)
                    c.*member = duration.value;
                return duration.problem;
            },
        .show = [](const relay_config& c) { return seconds_text(c.*member); },
        .unset = {},
    };
}

/// --NAME USD: a decimal from 0 to `max`.
template <auto member, std::uint64_t max>
constexpr flag_spec decimal_flag(std::string_view name, std::string_view help)
{
    return {
        .name = name,
        .metavar = "USD",
        .help = help,
        .apply =
            [](relay_config& c, std::string_view v) {
                const auto number = parse_decimal(v, static_cast<double>(max));
                if (number)
                    c.*member = number.value;
                return number.problem;
            },
        .show = [](const relay_config& c) { return decimal_text(c.*member); },
        .unset = {},
    };
}

/// --NAME alone turns it on; a value (the environment's) may be true/false, 1/0, yes/no.
template <auto member>
constexpr flag_spec boolean_flag(std::string_view name, std::string_view help)
{
    return {
        .name = name,
        .metavar = "",
        .help = help,
        .apply =
            [](relay_config& c, std::string_view v) {
                const auto on = parse_bool(v);
                if (on)
                    c.*member = on.value;
                return on.problem;
            },
        .show = [](const relay_config& c) { return std::string(c.*member ? "on" : "off"); },
        .unset = {},
    };
}

/// --NAME METAVAR: one of the names in `choices` (choices.hpp).
template <auto member, const auto& choices>
constexpr flag_spec
choice_flag(std::string_view name, std::string_view metavar, std::string_view help)
{
    return {
        .name = name,
        .metavar = metavar,
        .help = help,
        .apply =
            [](relay_config& c, std::string_view v) {
                const auto chosen = parse_choice(v, choices);
                if (chosen)
                    c.*member = chosen.value;
                return chosen.problem;
            },
        .show = [](const relay_config& c) { return std::string(choice_name(c.*member, choices)); },
        .unset = {},
    };
}

/// A list setting written back the way a TOKENRELAY_<FLAG> variable gives it.
std::string comma_separated(const std::vector<std::string>& items);

} // namespace tokenrelay::config::detail
