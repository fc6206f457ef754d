#pragma once
// The table of start-up flags (PROTOCOL.md section 7): one row per flag, shared by the
// command-line parser, the environment fallback and the usage text so they cannot drift.
// A row holds no default of its own: usage() shows what a default-constructed
// relay_config holds (default_text()).

#include <tokenrelay/config/config.hpp>

#include <span>
#include <string>
#include <string_view>

namespace tokenrelay::config::detail {

struct flag_spec
{
    std::string_view name;    // without the leading "--"
    std::string_view metavar; // what the value looks like; empty for a boolean flag
    std::string_view help;
    bool hidden = false; // test and benchmark knobs, left out of usage()
    // Stores one value into the config; returns the problem (phrased to follow
    // "--flag: ") when the value is bad. A repeatable flag appends, the others overwrite.
    std::string (*apply)(relay_config&, std::string_view value) = nullptr;
    // The setting in `config`, written so that `apply` reads it back; empty when it is
    // unset. Null for a secret or a file that holds one: never printed.
    std::string (*show)(const relay_config& config) = nullptr;
    // What an unset value means ("none: built-in demo model").
    std::string_view unset;

    bool is_boolean() const noexcept { return metavar.empty(); }
};

/// Every flag, in the order usage() lists them.
std::span<const flag_spec> flags();

/// The row for `name` (without "--"), or nullptr.
const flag_spec* find_flag(std::string_view name);

/// The default usage() shows for `spec`: show() of a default-constructed relay_config, or
/// `unset` when that is empty.
std::string default_text(const flag_spec& spec);

/// "max-connections-per-ip" -> "TOKENRELAY_MAX_CONNECTIONS_PER_IP".
std::string env_name(std::string_view flag_name);

/// Checks an upstream key wherever it came from; never echoes it.
std::string check_api_key(std::string_view key);
/// Why `password` cannot be the store's, or empty (flags_access.cpp).
std::string check_store_password(std::string_view password);

} // namespace tokenrelay::config::detail
