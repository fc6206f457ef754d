// Command line first, then TOKENRELAY_<FLAG> for what the command line left out
// (PROTOCOL.md section 7). Every failure is one line naming the flag; the upstream key is
// scrubbed from it whatever the path that produced it.

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/config/flags.hpp>
#include <tokenrelay/config/values.hpp>
#include <tokenrelay/core/build_info.hpp>
#include <tokenrelay/core/redact.hpp>

#include <algorithm>
#include <cstdlib>

namespace tokenrelay::config {

namespace {

using getenv_fn = const char* (*)(const char*);

const char* process_getenv(const char* name)
{
    return std::getenv(name);
}

// Deliberately no flag: a value in argv shows in `ps` to every user of the machine.
bool is_api_key_flag(std::string_view name)
{
    return name == "api-key" || name == "api_key" || name == "apikey";
}

// A secret and the file that holds it (--client-token, --client-token-file) are one
// setting: the other of the pair, or nullptr.
const detail::flag_spec* same_setting(const detail::flag_spec& spec)
{
    constexpr std::string_view file_suffix = "-file";
    if (spec.name.ends_with(file_suffix))
        return detail::find_flag(spec.name.substr(0, spec.name.size() - file_suffix.size()));
    return detail::find_flag(std::string(spec.name) + std::string(file_suffix));
}

class parser
{
public:
    parser(int argc, const char* const* argv, getenv_fn getenv)
        : argc_(argc), argv_(argv), getenv_(getenv ? getenv : &process_getenv),
          env_key_(detail::trim(env("TOKENRELAY_API_KEY"))),
          env_store_password_(detail::trim(env("TOKENRELAY_STORE_PASSWORD")))
    {}

    parse_result run()
    {
        for (int i = 1; i < argc_; ++i)
            if (auto stop = read_argument(i))
                return std::move(*stop);
        if (auto failed = read_environment())
            return std::move(*failed);
        return finish();
    }

private:
    using outcome = std::optional<parse_result>; // set: parsing stops with it

    // argv[i], and the value after it when that is the flag's; advances `i` past what it
    // took.
    outcome read_argument(int& i)
    {
        const std::string_view arg = argv_[i] ? argv_[i] : "";
        if (arg == "-h" || arg == "--help")
            return parse_result{std::nullopt, usage(), true};
        if (arg == "-V" || arg == "--version")
            return parse_result{std::nullopt, build_info(), false, true};
        if (!arg.starts_with("--") || arg == "--") {
            // Nothing is positional, so "--" (end of options) has nothing to end.
            if (arg.starts_with("-"))
                return fail(
                    "unknown flag " + detail::quote(arg.substr(0, arg.find('='))) + " (see --help)"
                );
            // Not echoed: a stray word is as likely a pasted secret as a typo.
            return fail(
                "unexpected argument " + std::to_string(i) +
                ": every setting is a --flag (see --help)"
            );
        }
        const auto eq = arg.find('=');
        const auto name = arg.substr(2, eq == std::string_view::npos ? eq : eq - 2);
        if (is_api_key_flag(name))
            return fail("--api-key is not accepted, since a key on the command line shows in ps: "
                        "set TOKENRELAY_API_KEY or use --api-key-file FILE");
        const auto* spec = detail::find_flag(name);
        if (spec == nullptr)
            return fail("unknown flag " + detail::quote(arg.substr(0, eq)) + " (see --help)");

        std::string_view value;
        if (eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
        } else if (spec->is_boolean()) {
            value = "true";
        } else if (is_value(i + 1)) {
            value = argv_[++i];
        } else {
            const std::string flag = "--" + std::string(name);
            const std::string meta(spec->metavar);
            return fail(
                flag + ": missing value (" + flag + " " + meta + " or " + flag + "=" + meta + ")"
            );
        }
        return apply_argument(*spec, value);
    }

    outcome apply_argument(const detail::flag_spec& spec, std::string_view value)
    {
        const std::string flag = "--" + std::string(spec.name);
        if (const auto* other = same_setting(spec); other && given(other))
            return fail(
                flag + ": --" + std::string(other->name) +
                " is given too, for the same setting; give one of them"
            );
        if (auto problem = spec.apply(config_, value); !problem.empty())
            return fail(flag + ": " + problem);
        given_.push_back(&spec);
        return std::nullopt;
    }

    outcome read_environment()
    {
        std::vector<const detail::flag_spec*> from_env;
        for (const auto& spec : detail::flags()) {
            // The command line wins, also when it gave the setting the other way.
            const auto* other = same_setting(spec);
            if (given(&spec) || (other && given(other)))
                continue;
            const auto variable = detail::env_name(spec.name);
            // Empty counts as unset: compose files and CI templates often leave variables blank.
            const auto value = env(variable.c_str());
            if (value.empty())
                continue;
            const auto prefix = variable + " (--" + std::string(spec.name) + "): ";
            if (other && std::find(from_env.begin(), from_env.end(), other) != from_env.end())
                return fail(
                    prefix + detail::env_name(other->name) +
                    " is set too, for the same setting; set one of them"
                );
            if (auto problem = spec.apply(config_, value); !problem.empty())
                return fail(prefix + problem);
            from_env.push_back(&spec);
        }
        return std::nullopt;
    }

    parse_result finish()
    {
        // A key file, from either source, wins over TOKENRELAY_API_KEY.
        if (config_.api_key.empty() && !env_key_.empty()) {
            if (auto problem = detail::check_api_key(env_key_); !problem.empty())
                return fail("TOKENRELAY_API_KEY: " + problem);
            config_.api_key = env_key_;
        }

        // Likewise a password file wins over TOKENRELAY_STORE_PASSWORD.
        if (config_.store_password.empty() && !env_store_password_.empty()) {
            if (auto problem = detail::check_store_password(env_store_password_); !problem.empty())
                return fail("TOKENRELAY_STORE_PASSWORD: " + problem);
            config_.store_password = env_store_password_;
        }

        // The relay reads an empty list as "only --model"; a given list must not lock the
        // default model out.
        auto& models = config_.allowed_models;
        if (!models.empty() &&
            std::find(models.begin(), models.end(), config_.model) == models.end())
            models.insert(models.begin(), config_.model);

        return parse_result{std::move(config_), {}, false};
    }

    bool given(const detail::flag_spec* spec) const
    {
        return std::find(given_.begin(), given_.end(), spec) != given_.end();
    }

    // "--threads --listen x" is a forgotten value, not a thread count of "--listen".
    bool is_value(int i) const
    {
        return i < argc_ && argv_[i] && !std::string_view(argv_[i]).starts_with("--");
    }

    std::string_view env(const char* name) const
    {
        const char* value = getenv_(name);
        return value ? std::string_view(value) : std::string_view{};
    }

    parse_result fail(std::string message) const
    {
        message = redact(redact(message, env_key_), config_.api_key);
        message = redact(redact(message, env_store_password_), config_.store_password);
        return parse_result{std::nullopt, std::move(message), false};
    }

    int argc_;
    const char* const* argv_;
    getenv_fn getenv_;
    std::string env_key_;
    std::string env_store_password_;
    relay_config config_;
    std::vector<const detail::flag_spec*> given_;
};

} // namespace

parse_result parse(int argc, const char* const* argv, const char* (*getenv)(const char*))
{
    return parser(argc, argv, getenv).run();
}

std::string usage()
{
    std::string out =
        "usage: tokenrelay [--flag VALUE | --flag=VALUE]...\n"
        "Every flag can also come from the environment as TOKENRELAY_<FLAG> (e.g. "
        "TOKENRELAY_RESUME_WINDOW=60); the command line wins.\n"
        "The upstream API key comes from TOKENRELAY_API_KEY or --api-key-file, never from a "
        "flag. Seconds accept decimals (0.5).\n\n";
    constexpr std::size_t column = 34;
    const auto line = [&](std::string left, std::string_view help) {
        left.insert(0, "  ");
        left.resize(std::max(column, left.size() + 1), ' ');
        out += left;
        out += help;
        out += '\n';
    };
    for (const auto& spec : detail::flags()) {
        if (spec.hidden)
            continue;
        std::string left = "--" + std::string(spec.name);
        if (!spec.is_boolean())
            left += " " + std::string(spec.metavar);
        line(
            std::move(left),
            std::string(spec.help) + " (default: " + detail::default_text(spec) + ")"
        );
    }
    line("-h, --help", "this text");
    line("-V, --version", "the version and what it was built with");
    return out;
}

std::optional<std::string> normalize_origin(std::string_view text)
{
    auto parsed = detail::parse_origin(text);
    if (!parsed)
        return std::nullopt;
    return std::move(parsed.value);
}

} // namespace tokenrelay::config
