// The flag table put together from its groups (flag_rows.hpp), and what every row shares.

#include <tokenrelay/config/flag_rows.hpp>
#include <tokenrelay/config/flags.hpp>
#include <tokenrelay/config/values.hpp>

#include <algorithm>
#include <vector>

namespace tokenrelay::config::detail {

namespace {

std::vector<flag_spec> all_flags()
{
    std::vector<flag_spec> out;
    for (const auto group :
         {service_flags(),
          limit_flags(),
          access_flags(),
          logging_flags(),
          api_key_flags(),
          test_knob_flags()})
        out.insert(out.end(), group.begin(), group.end());
    return out;
}

} // namespace

std::span<const flag_spec> flags()
{
    static const std::vector<flag_spec> table = all_flags();
    return table;
}

const flag_spec* find_flag(std::string_view name)
{
    const auto table = flags();
    const auto it = std::find_if(table.begin(), table.end(), [&](const flag_spec& spec) {
        return spec.name == name;
    });
    return it == table.end() ? nullptr : &*it;
}

std::string default_text(const flag_spec& spec)
{
    auto text = spec.show ? spec.show(relay_config{}) : std::string{};
    return text.empty() ? std::string(spec.unset) : text;
}

std::string comma_separated(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += ',';
        out += item;
    }
    return out;
}

std::string env_name(std::string_view flag_name)
{
    std::string out = "TOKENRELAY_";
    for (const char c : flag_name)
        out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return out;
}

std::string check_api_key(std::string_view key)
{
    // The key goes into an Authorization header as is; a space or line break inside it would
    // be a broken or injected header.
    if (!is_visible_ascii(key))
        return "the key must be printable ASCII without spaces or line breaks";
    return {};
}

} // namespace tokenrelay::config::detail
