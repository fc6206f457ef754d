// What the relay logs and how (PROTOCOL.md section 7).

#include <tokenrelay/config/flag_rows.hpp>

#include <array>

namespace tokenrelay::config::detail {

namespace {

constexpr std::array rows{
    choice_flag<&relay_config::log_level, log_level_choices>(
        "log-level", "L", "debug, info, warn or error"
    ),
    choice_flag<&relay_config::log_format, log_format_choices>(
        "log-format", "F", "text, or json for one JSON object per line"
    ),
    boolean_flag<&relay_config::log_content>(
        "log-content", "log each message and reply in generation_end (environment: true/false)"
    ),
};

} // namespace

std::span<const flag_spec> logging_flags()
{
    return rows;
}

} // namespace tokenrelay::config::detail
