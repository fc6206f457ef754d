// PROTOCOL.md section 7: flags, TOKENRELAY_<FLAG> fallbacks, one-line errors and the
// upstream key that never travels through argv or an error message.

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/config/flags.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tc = tokenrelay::config;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string>& fake_env()
{
    static std::map<std::string, std::string> env;
    return env;
}

const char* fake_getenv(const char* name)
{
    const auto it = fake_env().find(name);
    return it == fake_env().end() ? nullptr : it->second.c_str();
}

tc::parse_result run(const std::vector<std::string>& args)
{
    std::vector<const char*> argv{"tokenrelay"};
    for (const auto& arg : args)
        argv.push_back(arg.c_str());
    return tc::parse(static_cast<int>(argv.size()), argv.data(), &fake_getenv);
}

tc::relay_config parse_ok(const std::vector<std::string>& args)
{
    auto result = run(args);
    BOOST_TEST_REQUIRE(result.error == "");
    BOOST_TEST_REQUIRE(!result.help);
    BOOST_TEST_REQUIRE(result.config.has_value());
    return *result.config;
}

// Every failure must be a single line with no config, so start-up can print it and stop.
std::string parse_error(const std::vector<std::string>& args)
{
    const auto result = run(args);
    BOOST_TEST_REQUIRE(!result.config.has_value());
    BOOST_TEST(!result.help);
    BOOST_TEST(!result.error.empty());
    BOOST_TEST(result.error.find('\n') == std::string::npos);
    BOOST_TEST(result.error.find('\r') == std::string::npos);
    return result.error;
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

// A clean fake environment and a scratch directory per test.
struct fixture
{
    std::filesystem::path dir;

    fixture()
    {
        fake_env().clear();
        std::string pattern =
            (std::filesystem::temp_directory_path() / "tokenrelay-config-XXXXXX").string();
        BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
    }

    ~fixture()
    {
        fake_env().clear();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    std::string write(const std::string& name, const std::string& contents) const
    {
        const auto path = dir / name;
        std::ofstream(path, std::ios::binary) << contents;
        return path.string();
    }
};

// One flag, one good value, and what it must do to the config. Boolean flags are given
// bare in the space form, so their value must turn the flag on.
struct good_case
{
    std::string flag;
    std::string value;
    std::function<void(const tc::relay_config&)> check;
};

std::vector<good_case> good_cases()
{
    using cfg = const tc::relay_config&;
    return {
        {"listen",
         "0.0.0.0:9000",
         [](cfg c) {
             BOOST_TEST(c.listen.host == "0.0.0.0");
             BOOST_TEST(c.listen.port == 9000);
         }},
        {"upstream",
         "https://api.deepseek.com/v1/",
         [](cfg c) { BOOST_TEST(c.upstream == "https://api.deepseek.com/v1"); }},
        {"model", "qwen3:8b", [](cfg c) { BOOST_TEST(c.model == "qwen3:8b"); }},
        {"allowed-models",
         " a , b ",
         [](cfg c) {
             BOOST_TEST(c.allowed_models == (std::vector<std::string>{"deepseek-v3.2", "a", "b"}));
         }},
        {"threads", "8", [](cfg c) { BOOST_TEST(c.threads == 8u); }},
        {"max-connections", "500", [](cfg c) { BOOST_TEST(c.max_connections == 500u); }},
        {"max-connections-per-ip", "7", [](cfg c) { BOOST_TEST(c.max_connections_per_ip == 7u); }},
        {"max-sessions-per-ip", "3", [](cfg c) { BOOST_TEST(c.max_sessions_per_ip == 3u); }},
        {"max-connections-per-session",
         "1",
         [](cfg c) { BOOST_TEST(c.max_connections_per_session == 1u); }},
        {"max-generations-per-ip", "4", [](cfg c) { BOOST_TEST(c.max_generations_per_ip == 4u); }},
        {"max-detached-sessions", "9", [](cfg c) { BOOST_TEST(c.max_detached_sessions == 9u); }},
        {"rate-limit-per-ip", "0", [](cfg c) { BOOST_TEST(c.rate_limit_per_ip == 0u); }},
        {"max-upstream-requests", "5", [](cfg c) { BOOST_TEST(c.max_upstream_requests == 5u); }},
        {"max-message-bytes", "64", [](cfg c) { BOOST_TEST(c.max_message_bytes == 64u); }},
        {"max-image-bytes", "0", [](cfg c) { BOOST_TEST(c.max_image_bytes == 0u); }},
        {"resume-window", "0", [](cfg c) { BOOST_TEST(c.resume_window.count() == 0); }},
        {"first-token-timeout",
         "2.5",
         [](cfg c) { BOOST_TEST(c.first_token_timeout.count() == 2500); }},
        {"token-timeout", "0.25", [](cfg c) { BOOST_TEST(c.token_timeout.count() == 250); }},
        {"idle-timeout", "600", [](cfg c) { BOOST_TEST(c.idle_timeout.count() == 600000); }},
        {"ping-interval", "0.001", [](cfg c) { BOOST_TEST(c.ping_interval.count() == 1); }},
        {"compression", "yes", [](cfg c) { BOOST_TEST(c.compression); }},
        {"drain-timeout", "0", [](cfg c) { BOOST_TEST(c.drain_timeout.count() == 0); }},
        {"rate-limit", "0", [](cfg c) { BOOST_TEST(c.rate_limit == 0u); }},
        {"session-token-budget",
         "5000",
         [](cfg c) { BOOST_TEST(c.session_token_budget == 5000u); }},
        {"price-input", "0.27", [](cfg c) { BOOST_TEST(c.price_input_usd == 0.27); }},
        {"price-output", "1.1", [](cfg c) { BOOST_TEST(c.price_output_usd == 1.1); }},
        {"log-content", "true", [](cfg c) { BOOST_TEST(c.log_content); }},
        {"client-token",
         "s3cr3t-Tok.en_~+/==",
         [](cfg c) { BOOST_TEST(c.client_token == "s3cr3t-Tok.en_~+/=="); }},
        {"allowed-origin",
         "https://chat.example.com",
         [](cfg c) {
             BOOST_TEST(
                 c.allowed_origins == (std::vector<std::string>{"https://chat.example.com"})
             );
         }},
        {"public-host",
         "Chat.Example.COM.",
         [](cfg c) {
             BOOST_TEST(c.public_hosts == (std::vector<std::string>{"chat.example.com"}));
         }},
        {"metrics-token",
         "m3trics-Tok.en_~+/==",
         [](cfg c) { BOOST_TEST(c.metrics_token == "m3trics-Tok.en_~+/=="); }},
        {"log-level",
         "debug",
         [](cfg c) { BOOST_TEST((c.log_level == tokenrelay::log::level::debug)); }},
        {"log-format",
         "json",
         [](cfg c) { BOOST_TEST((c.log_format == tokenrelay::log::format::json)); }},
        {"upstream-format",
         "Anthropic",
         [](cfg c) { BOOST_TEST((c.upstream_format == tc::api_format::anthropic)); }},
        {"demo-token-interval-ms",
         "0",
         [](cfg c) { BOOST_TEST(c.demo_token_interval.count() == 0); }},
        {"header-timeout", "0.2", [](cfg c) { BOOST_TEST(c.header_timeout.count() == 200); }},
        {"upstream-connect-timeout",
         "1.5",
         [](cfg c) { BOOST_TEST(c.upstream_connect_timeout.count() == 1500); }},
        {"upstream-max-retries", "0", [](cfg c) { BOOST_TEST(c.upstream_max_retries == 0u); }},
        {"upstream-retry-budget",
         "0.5",
         [](cfg c) { BOOST_TEST(c.upstream_retry_budget.count() == 500); }},
        {"max-context-messages", "3", [](cfg c) { BOOST_TEST(c.max_context_messages == 3u); }},
        {"max-context-bytes", "100", [](cfg c) { BOOST_TEST(c.max_context_bytes == 100u); }},
        {"max-tokens-ceiling", "16", [](cfg c) { BOOST_TEST(c.max_tokens_ceiling == 16); }},
        {"max-http-body-bytes", "512", [](cfg c) { BOOST_TEST(c.max_http_body_bytes == 512u); }},
        {"outbound-backlog-bytes",
         "1024",
         [](cfg c) { BOOST_TEST(c.outbound_backlog_bytes == 1024u); }},
        {"replay-log-bytes", "4096", [](cfg c) { BOOST_TEST(c.replay_log_bytes == 4096u); }},
        {"history-max-turns", "2", [](cfg c) { BOOST_TEST(c.history_max_turns == 2u); }},
        {"history-max-bytes", "300", [](cfg c) { BOOST_TEST(c.history_max_bytes == 300u); }},
        {"store",
         "redis://cache.internal:6380/2",
         [](cfg c) {
             BOOST_TEST(c.store.redis);
             BOOST_TEST(!c.store.tls);
             BOOST_TEST(c.store.host == "cache.internal");
             BOOST_TEST(c.store.port == 6380);
             BOOST_TEST(c.store.db == 2);
         }},
    };
}

// Flags whose values are paths; they have tests of their own below.
const std::set<std::string> file_flags{
    "static",
    "upstream-ca",
    "api-key-file",
    "metrics-token-file",
    "client-token-file",
    "store-ca",
    "store-password-file"};

} // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_FIXTURE_TEST_CASE(version_stops_parsing_with_the_build_information, fixture)
{
    for (const char* flag : {"--version", "-V"}) {
        const auto result = run({"--threads", "2", flag, "--no-such-flag"});
        BOOST_TEST(result.version);
        BOOST_TEST(!result.help);
        BOOST_TEST(!result.config.has_value());
        BOOST_TEST(result.error.starts_with("tokenrelay "), result.error);
    }
}

BOOST_FIXTURE_TEST_CASE(no_flags_gives_the_protocol_defaults, fixture)
{
    const auto c = parse_ok({});
    BOOST_TEST((c == tc::relay_config{}));
    BOOST_TEST(c.listen.host == "127.0.0.1");
    BOOST_TEST(c.listen.port == 8080);
    BOOST_TEST(c.static_dir == "");
    BOOST_TEST(c.upstream == "");
    BOOST_TEST(c.model == "deepseek-v3.2");
    BOOST_TEST(c.allowed_models.empty());
    BOOST_TEST(c.upstream_ca == "");
    BOOST_TEST((c.upstream_format == tc::api_format::openai));
    BOOST_TEST(c.threads == 0u);
    BOOST_TEST(c.max_connections == 100000u);
    BOOST_TEST(c.max_connections_per_ip == 1000u);
    BOOST_TEST(c.max_sessions_per_ip == 100u);
    BOOST_TEST(c.max_generations_per_ip == 20u);
    BOOST_TEST(c.max_detached_sessions == 20000u);
    BOOST_TEST(c.rate_limit_per_ip == 300u);
    BOOST_TEST(c.max_message_bytes == 65536u);
    BOOST_TEST(c.resume_window.count() == 60000);
    BOOST_TEST(c.first_token_timeout.count() == 30000);
    BOOST_TEST(c.token_timeout.count() == 30000);
    BOOST_TEST(c.idle_timeout.count() == 300000);
    BOOST_TEST(c.ping_interval.count() == 30000);
    BOOST_TEST(!c.compression);
    BOOST_TEST(c.drain_timeout.count() == 30000);
    BOOST_TEST(c.rate_limit == 30u);
    BOOST_TEST(c.session_token_budget == 0u);
    BOOST_TEST(c.price_input_usd == 0.0);
    BOOST_TEST(c.price_output_usd == 0.0);
    BOOST_TEST(!c.log_content);
    BOOST_TEST(c.client_token == "");
    BOOST_TEST(c.allowed_origins.empty());
    BOOST_TEST((c.log_level == tokenrelay::log::level::info));
    BOOST_TEST((c.log_format == tokenrelay::log::format::text));
    BOOST_TEST(c.api_key == "");
}

BOOST_AUTO_TEST_CASE(the_test_tables_cover_every_flag)
{
    std::set<std::string> covered = file_flags;
    for (const auto& row : good_cases())
        covered.insert(row.flag);
    std::set<std::string> all;
    for (const auto& spec : tc::detail::flags())
        all.insert(std::string(spec.name));
    BOOST_TEST(covered == all, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(every_flag_parses_in_both_forms, fixture)
{
    for (const auto& row : good_cases()) {
        const auto* spec = tc::detail::find_flag(row.flag);
        BOOST_TEST_REQUIRE(spec != nullptr);
        BOOST_TEST_CONTEXT("--" << row.flag << " " << row.value)
        {
            if (spec->is_boolean())
                row.check(parse_ok({"--" + row.flag}));
            else
                row.check(parse_ok({"--" + row.flag, row.value}));
        }
        BOOST_TEST_CONTEXT("--" << row.flag << "=" << row.value)
        {
            row.check(parse_ok({"--" + row.flag + "=" + row.value}));
        }
    }
}

BOOST_FIXTURE_TEST_CASE(every_flag_falls_back_to_its_environment_variable, fixture)
{
    for (const auto& row : good_cases()) {
        BOOST_TEST_CONTEXT(tc::detail::env_name(row.flag) << "=" << row.value)
        {
            fake_env().clear();
            fake_env()[tc::detail::env_name(row.flag)] = row.value;
            row.check(parse_ok({}));
        }
    }
}

BOOST_AUTO_TEST_CASE(environment_names_are_upper_snake_case)
{
    BOOST_TEST(tc::detail::env_name("resume-window") == "TOKENRELAY_RESUME_WINDOW");
    BOOST_TEST(
        tc::detail::env_name("max-connections-per-ip") == "TOKENRELAY_MAX_CONNECTIONS_PER_IP"
    );
    BOOST_TEST(tc::detail::env_name("api-key-file") == "TOKENRELAY_API_KEY_FILE");
}

BOOST_FIXTURE_TEST_CASE(the_command_line_wins_over_the_environment, fixture)
{
    fake_env()["TOKENRELAY_THREADS"] = "2";
    fake_env()["TOKENRELAY_MODEL"] = "env-model";
    fake_env()["TOKENRELAY_ALLOWED_ORIGIN"] = "https://a.example, https://b.example";
    fake_env()["TOKENRELAY_COMPRESSION"] = "true";

    const auto flags_given =
        parse_ok({"--threads", "4", "--allowed-origin=https://c.example", "--compression=false"});
    BOOST_TEST(flags_given.threads == 4u);
    BOOST_TEST(flags_given.allowed_origins == (std::vector<std::string>{"https://c.example"}));
    BOOST_TEST(!flags_given.compression);
    BOOST_TEST(flags_given.model == "env-model"); // not on the command line: env applies

    const auto env_only = parse_ok({});
    BOOST_TEST(env_only.threads == 2u);
    BOOST_TEST(
        env_only.allowed_origins ==
        (std::vector<std::string>{"https://a.example", "https://b.example"})
    );
    BOOST_TEST(env_only.compression);
}

BOOST_FIXTURE_TEST_CASE(a_bad_value_in_the_environment_is_refused_even_if_unused, fixture)
{
    fake_env()["TOKENRELAY_THREADS"] = "abc";
    BOOST_TEST(
        parse_error({}) ==
        R"(TOKENRELAY_THREADS (--threads): expected an integer from 1 to 1024, got "abc")"
    );
    // Given on the command line, the variable is never read.
    BOOST_TEST(parse_ok({"--threads=3"}).threads == 3u);
}

BOOST_FIXTURE_TEST_CASE(an_empty_environment_variable_counts_as_unset, fixture)
{
    fake_env()["TOKENRELAY_THREADS"] = "";
    fake_env()["TOKENRELAY_UPSTREAM"] = "";
    const auto c = parse_ok({});
    BOOST_TEST(c.threads == 0u);
    BOOST_TEST(c.upstream == "");
}

BOOST_FIXTURE_TEST_CASE(compression_accepts_the_boolean_spellings, fixture)
{
    const std::vector<std::pair<std::string, bool>> spellings{
        {"true", true},
        {"TRUE", true},
        {"1", true},
        {"yes", true},
        {"Yes", true},
        {"false", false},
        {"0", false},
        {"no", false},
        {"NO", false},
    };
    for (const auto& [text, on] : spellings) {
        BOOST_TEST_CONTEXT(text)
        {
            fake_env()["TOKENRELAY_COMPRESSION"] = text;
            BOOST_TEST(parse_ok({}).compression == on);
            fake_env().clear();
            BOOST_TEST(parse_ok({"--compression=" + text}).compression == on);
        }
    }
    // A bare boolean flag takes no value from the next argument.
    BOOST_TEST(parse_ok({"--compression", "--threads", "2"}).compression);
    BOOST_TEST(
        parse_error({"--compression", "false"}) ==
        "unexpected argument 2: every setting is a --flag (see --help)"
    );
}

BOOST_FIXTURE_TEST_CASE(listen_accepts_ipv4_bracketed_ipv6_and_localhost, fixture)
{
    struct row
    {
        std::string text;
        std::string host;
        unsigned port;
    };
    const std::vector<row> rows{
        {"0.0.0.0:8080", "0.0.0.0", 8080},
        {"127.0.0.1:0", "127.0.0.1", 0}, // port 0: the kernel picks one (tests)
        {"10.1.2.3:65535", "10.1.2.3", 65535},
        {"[::1]:8080", "::1", 8080},
        {"[::]:443", "::", 443},
        {"[2001:db8::7]:9000", "2001:db8::7", 9000},
        {"localhost:3000", "127.0.0.1", 3000},
        {"LocalHost:1", "127.0.0.1", 1},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.text)
        {
            const auto c = parse_ok({"--listen", r.text});
            BOOST_TEST(c.listen.host == r.host);
            BOOST_TEST(c.listen.port == r.port);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(seconds_take_decimals_rounded_to_the_millisecond, fixture)
{
    const std::vector<std::pair<std::string, long>> rows{
        {"12", 12000},
        {"0.5", 500},
        {"1.25", 1250},
        {"1.2344", 1234},
        {"1.0005", 1001},
        {"0.0005", 1},
        {"007.100", 7100},
        {"1000000", 1000000000},
    };
    for (const auto& [text, ms] : rows) {
        BOOST_TEST_CONTEXT(text)
        {
            BOOST_TEST(parse_ok({"--token-timeout", text}).token_timeout.count() == ms);
        }
    }
    BOOST_TEST(
        parse_error({"--token-timeout=0.0004"}) ==
        R"(--token-timeout: expected seconds from 0.001 to 1000000 (decimals allowed, e.g. 0.5), got "0.0004")"
    );
}

BOOST_FIXTURE_TEST_CASE(prices_are_decimals_per_million_tokens, fixture)
{
    const std::vector<std::pair<std::string, double>> rows{
        {"0", 0.0},
        {"2", 2.0},
        {"0.27", 0.27},
        {"15.", 15.0},
        {"007.50", 7.5},
        {"1000000", 1e6},
    };
    for (const auto& [text, usd] : rows) {
        BOOST_TEST_CONTEXT(text)
        {
            BOOST_TEST(parse_ok({"--price-input", text}).price_input_usd == usd);
            BOOST_TEST(parse_ok({"--price-output=" + text}).price_output_usd == usd);
        }
    }
    for (const std::string bad : {"-1", ".5", "1e3", "1.2.3", "abc", "1000000.5", " 1"}) {
        BOOST_TEST_CONTEXT(bad)
        {
            BOOST_TEST(
                parse_error({"--price-input=" + bad}) ==
                "--price-input: expected a decimal number from 0 to 1e+06 (e.g. 0.27), got \"" +
                    bad + "\""
            );
        }
    }
    BOOST_TEST(
        parse_error({"--session-token-budget", "-5"}) ==
        R"(--session-token-budget: expected an integer from 0 to 1000000000000, got "-5")"
    );
    fake_env()["TOKENRELAY_LOG_CONTENT"] = "yes";
    BOOST_TEST(parse_ok({}).log_content);
    BOOST_TEST(!parse_ok({"--log-content=false"}).log_content);
}

BOOST_FIXTURE_TEST_CASE(allowed_origin_repeats_and_is_normalised_like_a_browser_origin, fixture)
{
    const auto c = parse_ok(
        {"--allowed-origin",
         "https://a.example",
         "--allowed-origin=HTTP://B.Example:8080/",
         "--allowed-origin",
         "https://a.example:443",
         "--allowed-origin",
         "http://[::1]:80"}
    );
    BOOST_TEST(
        c.allowed_origins ==
        (std::vector<std::string>{"https://a.example", "http://b.example:8080", "http://[::1]"})
    );
}

BOOST_FIXTURE_TEST_CASE(public_host_repeats_and_is_compared_in_lower_case, fixture)
{
    const auto c = parse_ok(
        {"--public-host",
         "a.example",
         "--public-host=A.Example.",
         "--public-host",
         "relay_1.internal",
         "--public-host",
         "10.0.0.11",
         "--public-host",
         "10.0.0.11.nip.io",
         "--public-host",
         "[::1]"}
    );
    BOOST_TEST(
        c.public_hosts ==
        (std::vector<std::string>{
            "a.example", "relay_1.internal", "10.0.0.11", "10.0.0.11.nip.io", "[::1]"})
    );
    fake_env()["TOKENRELAY_PUBLIC_HOST"] = "b.example, C.example";
    BOOST_TEST(parse_ok({}).public_hosts == (std::vector<std::string>{"b.example", "c.example"}));
}

BOOST_FIXTURE_TEST_CASE(allowed_models_always_include_the_model_when_given, fixture)
{
    BOOST_TEST(parse_ok({"--model", "m"}).allowed_models.empty());
    BOOST_TEST(
        parse_ok({"--model", "m", "--allowed-models", "a,m,a"}).allowed_models ==
        (std::vector<std::string>{"a", "m"})
    );
    // Order of the flags does not matter: the model is added after both are known.
    BOOST_TEST(
        parse_ok({"--allowed-models=a", "--model=m"}).allowed_models ==
        (std::vector<std::string>{"m", "a"})
    );
    BOOST_TEST(parse_ok({"--model", "  spaced  "}).model == "spaced");
}

BOOST_FIXTURE_TEST_CASE(upstream_is_normalised, fixture)
{
    BOOST_TEST(
        parse_ok({"--upstream=HTTPS://Api.Example/v1//"}).upstream == "https://Api.Example/v1"
    );
    BOOST_TEST(
        parse_ok({"--upstream", "http://127.0.0.1:11434/v1"}).upstream ==
        "http://127.0.0.1:11434/v1"
    );
    BOOST_TEST(parse_ok({"--upstream", "http://[::1]:8000/"}).upstream == "http://[::1]:8000");
}

BOOST_FIXTURE_TEST_CASE(path_flags_need_existing_files, fixture)
{
    const auto ca = write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    BOOST_TEST(parse_ok({"--upstream-ca", ca}).upstream_ca == ca);
    BOOST_TEST(parse_ok({"--upstream-ca=" + ca}).upstream_ca == ca);
    BOOST_TEST(parse_ok({"--static", dir.string()}).static_dir == dir.string());
    BOOST_TEST(parse_ok({"--static=" + dir.string()}).static_dir == dir.string());
    fake_env()["TOKENRELAY_UPSTREAM_CA"] = ca;
    fake_env()["TOKENRELAY_STATIC"] = dir.string();
    const auto from_env = parse_ok({});
    BOOST_TEST(from_env.upstream_ca == ca);
    BOOST_TEST(from_env.static_dir == dir.string());

    const auto missing = (dir / "nope.pem").string();
    BOOST_TEST(
        parse_error({"--upstream-ca", missing}) ==
        "--upstream-ca: cannot read \"" + missing + "\": No such file or directory"
    );
    BOOST_TEST(
        parse_error({"--upstream-ca", dir.string()}) ==
        "--upstream-ca: cannot read \"" + dir.string() + "\": not a regular file"
    );
    BOOST_TEST(
        parse_error({"--static", ca}) ==
        "--static: expected an existing directory, got \"" + ca + "\""
    );
}

BOOST_FIXTURE_TEST_CASE(every_bad_value_names_its_flag_on_one_line, fixture)
{
    struct row
    {
        std::vector<std::string> args;
        std::string flag;
    };
    const std::vector<row> rows{
        {{"--listen", "8080"}, "--listen"},
        {{"--listen", "localhost"}, "--listen"},
        {{"--listen", "1.2.3.4:65536"}, "--listen"},
        {{"--listen", "1.2.3.4:"}, "--listen"},
        {{"--listen", "1.2.3.4:-1"}, "--listen"},
        {{"--listen", "::1:8080"}, "--listen"},
        {{"--listen", "[::1]8080"}, "--listen"},
        {{"--listen", "[::1:8080"}, "--listen"},
        {{"--listen", "[1.2.3.4]:80"}, "--listen"},
        {{"--listen", "example.com:80"}, "--listen"},
        {{"--listen", "1.2.3:80"}, "--listen"},
        {{"--upstream", "ftp://example.com/v1"}, "--upstream"},
        {{"--upstream", "api.deepseek.com/v1"}, "--upstream"},
        {{"--upstream", "http://"}, "--upstream"},
        {{"--upstream", "http:/v1"}, "--upstream"},
        {{"--upstream", "http://h/v1?x=1"}, "--upstream"},
        {{"--upstream", "http://h/v1#top"}, "--upstream"},
        {{"--upstream", "http://h:0/v1"}, "--upstream"},
        {{"--upstream", "http://h:99999/v1"}, "--upstream"},
        {{"--upstream", "http://h v1"}, "--upstream"},
        {{"--model="}, "--model"},
        {{"--model", "   "}, "--model"},
        {{"--allowed-models", "a,,b"}, "--allowed-models"},
        {{"--allowed-models", ","}, "--allowed-models"},
        {{"--allowed-models="}, "--allowed-models"},
        {{"--threads", "0"}, "--threads"},
        {{"--threads", "1025"}, "--threads"},
        {{"--threads", "-1"}, "--threads"},
        {{"--threads", "+4"}, "--threads"},
        {{"--threads", " 4"}, "--threads"},
        {{"--threads", "4x"}, "--threads"},
        {{"--threads", "0x10"}, "--threads"},
        {{"--threads", "99999999999999999999999"}, "--threads"},
        {{"--threads="}, "--threads"},
        {{"--max-connections", "0"}, "--max-connections"},
        {{"--max-connections", "10000001"}, "--max-connections"},
        {{"--max-connections-per-ip", "x"}, "--max-connections-per-ip"},
        {{"--max-sessions-per-ip", "0"}, "--max-sessions-per-ip"},
        {{"--max-connections-per-session", "0"}, "--max-connections-per-session"},
        {{"--max-connections-per-session", "1025"}, "--max-connections-per-session"},
        {{"--max-generations-per-ip", "0"}, "--max-generations-per-ip"},
        {{"--max-detached-sessions", "-1"}, "--max-detached-sessions"},
        {{"--rate-limit-per-ip", "x"}, "--rate-limit-per-ip"},
        {{"--max-upstream-requests", "0"}, "--max-upstream-requests"},
        {{"--max-message-bytes", "63"}, "--max-message-bytes"},
        {{"--max-message-bytes", "16777217"}, "--max-message-bytes"},
        {{"--max-image-bytes", "268435457"}, "--max-image-bytes"},
        {{"--resume-window", "-1"}, "--resume-window"},
        {{"--resume-window", "1e3"}, "--resume-window"},
        {{"--resume-window", "1."}, "--resume-window"},
        {{"--resume-window", ".5"}, "--resume-window"},
        {{"--resume-window", "1,5"}, "--resume-window"},
        {{"--resume-window", "1000000.001"}, "--resume-window"},
        {{"--first-token-timeout", "0"}, "--first-token-timeout"},
        {{"--token-timeout", "abc"}, "--token-timeout"},
        {{"--idle-timeout", "1000001"}, "--idle-timeout"},
        {{"--ping-interval="}, "--ping-interval"},
        {{"--drain-timeout", "soon"}, "--drain-timeout"},
        {{"--compression=maybe"}, "--compression"},
        {{"--compression="}, "--compression"},
        {{"--rate-limit", "-5"}, "--rate-limit"},
        {{"--rate-limit", "1000001"}, "--rate-limit"},
        {{"--client-token", "has space"}, "--client-token"},
        {{"--client-token="}, "--client-token"},
        {{"--client-token", "a=b"}, "--client-token"},
        {{"--allowed-origin", "chat.example.com"}, "--allowed-origin"},
        {{"--allowed-origin", "https://a.example/path"}, "--allowed-origin"},
        {{"--allowed-origin", "https://a.example?x=1"}, "--allowed-origin"},
        {{"--allowed-origin", "https://u@a.example"}, "--allowed-origin"},
        {{"--allowed-origin", "ws://a.example"}, "--allowed-origin"},
        {{"--allowed-origin", "https://a.example,,https://b.example"}, "--allowed-origin"},
        {{"--allowed-origin", "null"}, "--allowed-origin"},
        {{"--allowed-origin", "*"}, "--allowed-origin"},
        {{"--public-host", "https://chat.example.com"}, "--public-host"},
        {{"--public-host", "chat.example.com:443"}, "--public-host"},
        {{"--public-host", "chat.example.com/"}, "--public-host"},
        {{"--public-host", "user@chat.example.com"}, "--public-host"},
        {{"--public-host", "chat example.com"}, "--public-host"},
        {{"--public-host", "a..example.com"}, "--public-host"},
        {{"--public-host", ".example.com"}, "--public-host"},
        {{"--public-host", "caf%C3%A9.example"}, "--public-host"},
        {{"--public-host", std::string(64, 'a') + ".example"}, "--public-host"},
        {{"--public-host", "a.example,,b.example"}, "--public-host"},
        {{"--public-host", "[::1"}, "--public-host"},
        {{"--public-host", "[chat.example.com]"}, "--public-host"},
        {{"--public-host="}, "--public-host"},
        {{"--metrics-token", "has space"}, "--metrics-token"},
        {{"--metrics-token="}, "--metrics-token"},
        {{"--metrics-token-file="}, "--metrics-token-file"},
        {{"--client-token-file", "/nonexistent/token"}, "--client-token-file"},
        {{"--log-level", "verbose"}, "--log-level"},
        {{"--log-format", "xml"}, "--log-format"},
        {{"--upstream-format", "claude"}, "--upstream-format"},
        {{"--upstream-format="}, "--upstream-format"},
        {{"--demo-token-interval-ms", "60001"}, "--demo-token-interval-ms"},
        {{"--upstream-max-retries", "5"}, "--upstream-max-retries"},
        {{"--upstream-retry-budget", "15.001"}, "--upstream-retry-budget"},
        {{"--replay-log-bytes", "16777217"}, "--replay-log-bytes"},
        {{"--outbound-backlog-bytes", "1048577"}, "--outbound-backlog-bytes"},
        {{"--max-http-body-bytes", "0"}, "--max-http-body-bytes"},
        {{"--header-timeout", "0"}, "--header-timeout"},
        {{"--threads"}, "--threads"},
        {{"--listen", "--threads", "2"}, "--listen"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.args.front() << (r.args.size() > 1 ? " " + r.args[1] : ""))
        {
            const auto error = parse_error(r.args);
            BOOST_TEST(error.starts_with(r.flag + ": "), error);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(bad_value_messages_say_what_was_expected, fixture)
{
    const std::vector<std::pair<std::vector<std::string>, std::string>> rows{
        {{"--threads", "abc"}, R"(--threads: expected an integer from 1 to 1024, got "abc")"},
        {{"--max-message-bytes=63"},
         R"(--max-message-bytes: expected an integer from 64 to 16777216, got "63")"},
        {{"--first-token-timeout", "0"},
         R"(--first-token-timeout: expected seconds from 0.001 to 1000000 (decimals allowed, e.g. 0.5), got "0")"},
        {{"--drain-timeout", "x"},
         R"(--drain-timeout: expected seconds from 0 to 1000000 (decimals allowed, e.g. 0.5), got "x")"},
        {{"--compression=maybe"},
         R"(--compression: expected true, false, 1, 0, yes or no, got "maybe")"},
        {{"--log-level", "verbose"},
         R"(--log-level: expected debug, info, warn or error, got "verbose")"},
        {{"--log-format", "xml"}, R"(--log-format: expected text or json, got "xml")"},
        {{"--upstream-format", "gemini"},
         R"(--upstream-format: expected openai or anthropic, got "gemini")"},
        {{"--listen", "example.com:80"},
         R"(--listen: expected HOST:PORT with an IPv4 address, a [bracketed] IPv6 address or localhost, got "example.com:80")"},
        {{"--listen", "1.2.3.4:65536"},
         R"(--listen: expected a port from 0 to 65535 after the host, got "1.2.3.4:65536")"},
        {{"--upstream", "ftp://x/v1"},
         R"(--upstream: expected an http:// or https:// base URL, got "ftp://x/v1")"},
        {{"--upstream", "http:/v1"}, R"(--upstream: expected a URL with a host, got "http:/v1")"},
        {{"--upstream", "http://h:0"},
         R"(--upstream: expected a port from 1 to 65535 in the URL, got "http://h:0")"},
        {{"--upstream", "http://h/v1?x=1"},
         R"(--upstream: expected a base URL without a query, got "http://h/v1?x=1")"},
        {{"--allowed-models", "a,,b"},
         R"(--allowed-models: expected a comma-separated list of non-empty model names, got "a,,b")"},
        {{"--allowed-origin", "https://a.example/path"},
         R"(--allowed-origin: expected an origin such as https://chat.example.com (scheme, host and optional port, no path), got "https://a.example/path")"},
        {{"--public-host", "chat.example.com:443"},
         R"(--public-host: expected a host name such as chat.example.com (no scheme, port or path), got "chat.example.com:443")"},
        {{"--model="}, R"(--model: expected a non-empty model name, got "")"},
        {{"--threads"}, "--threads: missing value (--threads N or --threads=N)"},
        {{"--listen", "--threads", "2"},
         "--listen: missing value (--listen HOST:PORT or --listen=HOST:PORT)"},
    };
    for (const auto& [args, message] : rows) {
        BOOST_TEST_CONTEXT(args.front())
        {
            BOOST_TEST(parse_error(args) == message);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(echoed_values_are_escaped_and_cut, fixture)
{
    BOOST_TEST(
        parse_error({"--log-level", "a\nb\"c\\"}) ==
        R"(--log-level: expected debug, info, warn or error, got "a\x0ab\"c\\")"
    );
    const auto error = parse_error({"--log-format", std::string(500, 'x')});
    BOOST_TEST(
        error == "--log-format: expected text or json, got \"" + std::string(80, 'x') + "\"..."
    );
}

BOOST_FIXTURE_TEST_CASE(secrets_in_bad_values_are_not_echoed, fixture)
{
    const auto token = parse_error({"--client-token", "secret with space"});
    BOOST_TEST(
        token ==
        "--client-token: expected a bearer token of letters, digits and -._~+/ (RFC 6750 b64token)"
    );
    const auto url = parse_error({"--upstream", "https://user:hunter2@api.example/v1"});
    BOOST_TEST(
        url ==
        "--upstream: user info in the URL is not allowed (the key comes from TOKENRELAY_API_KEY "
        "or --api-key-file)"
    );
}

BOOST_FIXTURE_TEST_CASE(unknown_flags_and_stray_arguments_are_refused, fixture)
{
    BOOST_TEST(parse_error({"--nope"}) == R"(unknown flag "--nope" (see --help))");
    BOOST_TEST(parse_error({"--nope=secret"}) == R"(unknown flag "--nope" (see --help))");
    BOOST_TEST(parse_error({"-x"}) == R"(unknown flag "-x" (see --help))");
    BOOST_TEST(
        parse_error({"--threads", "2", "stray"}) ==
        "unexpected argument 3: every setting is a --flag (see --help)"
    );
    BOOST_TEST(parse_error({"--"}) == R"(unknown flag "--" (see --help))");
}

BOOST_FIXTURE_TEST_CASE(tokens_come_from_files_trimmed, fixture)
{
    const auto client = write("client", "client-tok-1\n");
    const auto metrics = write("metrics", "  metrics-tok-1  \r\n");
    const auto c = parse_ok({"--client-token-file", client, "--metrics-token-file=" + metrics});
    BOOST_TEST(c.client_token == "client-tok-1");
    BOOST_TEST(c.metrics_token == "metrics-tok-1");

    fake_env()["TOKENRELAY_CLIENT_TOKEN_FILE"] = client;
    fake_env()["TOKENRELAY_METRICS_TOKEN_FILE"] = metrics;
    const auto from_env = parse_ok({});
    BOOST_TEST(from_env.client_token == "client-tok-1");
    BOOST_TEST(from_env.metrics_token == "metrics-tok-1");
}

BOOST_FIXTURE_TEST_CASE(token_file_errors_never_show_the_token, fixture)
{
    for (const std::string flag : {"--client-token-file", "--metrics-token-file"}) {
        BOOST_TEST_CONTEXT(flag)
        {
            const auto missing = (dir / "missing").string();
            BOOST_TEST(
                parse_error({flag, missing}) ==
                flag + ": cannot read \"" + missing + "\": No such file or directory"
            );
            const auto empty = write("empty", " \n");
            BOOST_TEST(parse_error({flag, empty}) == flag + ": \"" + empty + "\" is empty");
            const auto spaced = write("spaced", "secret tok\n");
            const auto error = parse_error({flag, spaced});
            BOOST_TEST(
                error == flag + ": the token in \"" + spaced +
                             "\": expected a bearer token of letters, digits and -._~+/ (RFC "
                             "6750 b64token)"
            );
            BOOST_TEST(!contains(error, "secret"));
            const auto large = write("large", std::string(64 * 1024 + 1, 'a'));
            BOOST_TEST(
                parse_error({flag, large}) ==
                flag + ": \"" + large + "\" is larger than 65536 bytes"
            );
        }
    }
}

BOOST_FIXTURE_TEST_CASE(a_token_and_its_file_are_one_setting, fixture)
{
    const auto file = write("token", "file-tok\n");
    // Both on the command line, in either order: refused, naming both.
    BOOST_TEST(
        parse_error({"--client-token", "flag-tok", "--client-token-file", file}) ==
        "--client-token-file: --client-token is given too, for the same setting; give one of "
        "them"
    );
    BOOST_TEST(
        parse_error({"--metrics-token-file", file, "--metrics-token=flag-tok"}) ==
        "--metrics-token: --metrics-token-file is given too, for the same setting; give one of "
        "them"
    );
    // Both in the environment: refused too.
    fake_env()["TOKENRELAY_CLIENT_TOKEN"] = "env-tok";
    fake_env()["TOKENRELAY_CLIENT_TOKEN_FILE"] = file;
    BOOST_TEST(
        parse_error({}) ==
        "TOKENRELAY_CLIENT_TOKEN_FILE (--client-token-file): TOKENRELAY_CLIENT_TOKEN is set "
        "too, for the same setting; set one of them"
    );
    // The command line wins over the environment, whichever way it gives the setting; the
    // variables are then not read at all.
    fake_env()["TOKENRELAY_CLIENT_TOKEN_FILE"] = (dir / "missing").string();
    BOOST_TEST(parse_ok({"--client-token", "flag-tok"}).client_token == "flag-tok");
    BOOST_TEST(parse_ok({"--client-token-file", file}).client_token == "file-tok");
}

BOOST_FIXTURE_TEST_CASE(api_key_flag_is_rejected_without_echoing_the_key, fixture)
{
    const std::string expected =
        "--api-key is not accepted, since a key on the command line shows in ps: set "
        "TOKENRELAY_API_KEY or use --api-key-file FILE";
    const std::vector<std::vector<std::string>> forms{
        {"--api-key", "sk-live-123"},
        {"--api-key=sk-live-123"},
        {"--api_key=sk-live-123"},
        {"--threads", "2", "--api-key", "sk-live-123"},
    };
    for (const auto& args : forms) {
        BOOST_TEST_CONTEXT(args.front())
        {
            const auto error = parse_error(args);
            BOOST_TEST(error == expected);
            BOOST_TEST(!contains(error, "sk-live-123"));
        }
    }
}

BOOST_FIXTURE_TEST_CASE(api_key_comes_from_the_environment_trimmed, fixture)
{
    fake_env()["TOKENRELAY_API_KEY"] = "  sk-env-1\n";
    BOOST_TEST(parse_ok({}).api_key == "sk-env-1");

    fake_env()["TOKENRELAY_API_KEY"] = "sk-env 1";
    const auto error = parse_error({});
    BOOST_TEST(
        error == "TOKENRELAY_API_KEY: the key must be printable ASCII without spaces or line breaks"
    );
}

BOOST_FIXTURE_TEST_CASE(api_key_comes_from_a_file_which_wins_over_the_environment, fixture)
{
    const auto file = write("key", "sk-file-1\n");
    const auto other = write("other", "  sk-file-2  \r\n");
    BOOST_TEST(parse_ok({"--api-key-file", file}).api_key == "sk-file-1");
    BOOST_TEST(parse_ok({"--api-key-file=" + other}).api_key == "sk-file-2");

    fake_env()["TOKENRELAY_API_KEY"] = "sk-env-1";
    BOOST_TEST(parse_ok({"--api-key-file", file}).api_key == "sk-file-1");

    fake_env()["TOKENRELAY_API_KEY_FILE"] = other;
    BOOST_TEST(parse_ok({}).api_key == "sk-file-2");
    BOOST_TEST(parse_ok({"--api-key-file", file}).api_key == "sk-file-1");
}

BOOST_FIXTURE_TEST_CASE(store_urls, fixture)
{
    BOOST_TEST(!parse_ok({"--store", "memory"}).store.redis);
    auto tls = parse_ok({"--store", "rediss://user@[::1]/0"}).store;
    BOOST_TEST(tls.redis);
    BOOST_TEST(tls.tls);
    BOOST_TEST(tls.host == "::1");
    BOOST_TEST(tls.port == 6379);
    BOOST_TEST(tls.username == "user");
    BOOST_TEST(parse_ok({"--store", "REDIS://h"}).store.host == "h");

    for (const char* bad :
         {"redis://", "http://h:6379", "redis://h:0", "redis://h/x", "redis://h/1?x=y", "disk"}) {
        const auto error = parse_error({"--store", bad});
        BOOST_TEST(error.starts_with("--store: "), error);
    }
    // A password in the URL is refused and never echoed.
    const auto error = parse_error({"--store", "redis://user:hunter2@h:6379"});
    BOOST_TEST(error.find("TOKENRELAY_STORE_PASSWORD") != std::string::npos, error);
    BOOST_TEST(error.find("hunter2") == std::string::npos, error);
}

BOOST_FIXTURE_TEST_CASE(store_password_comes_from_the_environment_or_a_file, fixture)
{
    BOOST_TEST(parse_ok({}).store_password.empty());
    fake_env()["TOKENRELAY_STORE_PASSWORD"] = " env-pw ";
    BOOST_TEST(parse_ok({}).store_password == "env-pw");
    const auto file = write("pw", "file pw\n");
    BOOST_TEST(parse_ok({"--store-password-file", file}).store_password == "file pw");
    const auto two_lines = write("pw2", "one\ntwo\n");
    const auto error = parse_error({"--store-password-file", two_lines});
    BOOST_TEST(error.find("control characters") != std::string::npos, error);
    BOOST_TEST(error.find("two") == std::string::npos, error);
    fake_env()["TOKENRELAY_STORE_PASSWORD"] = "bad\tpw";
    const auto env_error = parse_error({});
    BOOST_TEST(env_error.starts_with("TOKENRELAY_STORE_PASSWORD: "), env_error);
    BOOST_TEST(env_error.find("bad") == std::string::npos, env_error);
}

BOOST_FIXTURE_TEST_CASE(api_key_file_errors_never_show_the_key, fixture)
{
    const auto missing = (dir / "missing").string();
    BOOST_TEST(
        parse_error({"--api-key-file", missing}) ==
        "--api-key-file: cannot read \"" + missing + "\": No such file or directory"
    );
    const auto empty = write("empty", "");
    BOOST_TEST(
        parse_error({"--api-key-file", empty}) == "--api-key-file: \"" + empty + "\" is empty"
    );
    const auto blank = write("blank", " \n\n");
    BOOST_TEST(
        parse_error({"--api-key-file", blank}) == "--api-key-file: \"" + blank + "\" is empty"
    );
    const auto spaced = write("spaced", "sk-two words\n");
    const auto error = parse_error({"--api-key-file", spaced});
    BOOST_TEST(
        error == "--api-key-file: the key in \"" + spaced +
                     "\": the key must be printable ASCII without spaces or line breaks"
    );
    BOOST_TEST(!contains(error, "sk-two"));

    fake_env()["TOKENRELAY_API_KEY_FILE"] = missing;
    BOOST_TEST(
        parse_error({}) == "TOKENRELAY_API_KEY_FILE (--api-key-file): cannot read \"" + missing +
                               "\": No such file or directory"
    );
}

BOOST_FIXTURE_TEST_CASE(a_key_pasted_into_another_flag_is_redacted_from_the_error, fixture)
{
    fake_env()["TOKENRELAY_API_KEY"] = "sk-secret-xyz";
    const auto from_env = parse_error({"--log-level", "sk-secret-xyz"});
    BOOST_TEST(from_env == R"(--log-level: expected debug, info, warn or error, got "[redacted]")");

    fake_env().clear();
    const auto file = write("key", "sk-file-abc\n");
    const auto from_file = parse_error({"--api-key-file", file, "--log-format=sk-file-abc"});
    BOOST_TEST(from_file == R"(--log-format: expected text or json, got "[redacted]")");
}

BOOST_FIXTURE_TEST_CASE(help_returns_the_usage_text, fixture)
{
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"--threads", "4", "-h"}}) {
        BOOST_TEST_CONTEXT(args.back())
        {
            const auto result = run(args);
            BOOST_TEST(result.help);
            BOOST_TEST(!result.config.has_value());
            BOOST_TEST(result.error == tc::usage());
        }
    }
}

BOOST_AUTO_TEST_CASE(usage_lists_each_public_flag_once_with_its_default)
{
    const auto text = tc::usage();
    std::vector<std::string> lines;
    for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
        end = text.find('\n', start);
        lines.push_back(text.substr(start, end - start));
    }
    for (const auto& spec : tc::detail::flags()) {
        const std::string prefix = "  --" + std::string(spec.name) + " ";
        const auto count = std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
            return l.starts_with(prefix);
        });
        BOOST_TEST_CONTEXT(spec.name)
        {
            BOOST_TEST(count == (spec.hidden ? 0 : 1));
        }
    }
    const auto has_line = [&](const std::string& line) {
        return std::find(lines.begin(), lines.end(), line) != lines.end();
    };
    BOOST_TEST(has_line(
        "  --listen HOST:PORT              where to listen (0.0.0.0:8080 for all interfaces, "
        "[::1]:8080 for IPv6) (default: 127.0.0.1:8080)"
    ));
    BOOST_TEST(has_line(
        "  --resume-window S               seconds a detached session stays resumable (0: not at "
        "all) (default: 60)"
    ));
    BOOST_TEST(has_line(
        "  --compression                   allow permessage-deflate (environment: true/false, "
        "1/0, yes/no) (default: off)"
    ));
    BOOST_TEST(has_line("  -h, --help                      this text"));
    BOOST_TEST(!contains(text, "demo-token-interval-ms"));
    BOOST_TEST(!contains(text, "--api-key "));
}

// The defaults usage() prints are the defaults relay_config holds: each printed value,
// given as the flag, leaves a default-constructed config unchanged, and a flag printed as
// unset is unset in it.
BOOST_FIXTURE_TEST_CASE(usage_defaults_match_the_config_defaults, fixture)
{
    const tc::relay_config defaults{};
    const auto text = tc::usage();
    std::size_t literal = 0;
    std::set<std::string> without_show;
    for (const auto& spec : tc::detail::flags()) {
        const std::string name(spec.name);
        const auto shown = tc::detail::default_text(spec);
        if (!spec.show)
            without_show.insert(name);
        BOOST_TEST_CONTEXT(name << " default " << shown)
        {
            if (!spec.hidden) {
                const auto line_start = text.find("\n  --" + name + " ");
                BOOST_TEST_REQUIRE(line_start != std::string::npos);
                const auto line =
                    text.substr(line_start, text.find('\n', line_start + 1) - line_start);
                BOOST_TEST(line.ends_with(" (default: " + shown + ")"));
            }
            const auto value = spec.show ? spec.show(defaults) : std::string{};
            if (value.empty()) {
                BOOST_TEST(!spec.unset.empty());
                BOOST_TEST(shown == std::string(spec.unset));
                continue;
            }
            ++literal;
            BOOST_TEST(shown == value);
            // A boolean flag shows on/off; its value (the environment's) is true/false.
            const auto as_flag = spec.is_boolean()
                                     ? "--" + name + "=" + (shown == "on" ? "true" : "false")
                                     : "--" + name + "=" + shown;
            BOOST_TEST((parse_ok({as_flag}) == defaults));
        }
    }
    // Only secrets, never printed, go without show(); a row that lost it would drop out of
    // the check above.
    BOOST_TEST(
        without_show == (std::set<std::string>{
                            "client-token",
                            "metrics-token",
                            "metrics-token-file",
                            "client-token-file",
                            "api-key-file",
                            "store-password-file"})
    );
    BOOST_TEST(literal > 0u);
}

// show() writes what the flag reads back, so a changed default changes --help with it.
BOOST_FIXTURE_TEST_CASE(each_shown_value_reads_back_as_the_same_setting, fixture)
{
    const auto changed = parse_ok(
        {"--listen=[::1]:9000",
         "--resume-window=1.5",
         "--price-input=0.27",
         "--compression",
         "--log-level=warn",
         "--upstream-format=anthropic",
         "--allowed-models=a,b",
         "--threads=3",
         "--max-context-bytes=100"}
    );
    std::vector<std::string> args;
    for (const auto& spec : tc::detail::flags()) {
        if (!spec.show)
            continue;
        const auto value = spec.show(changed);
        if (value.empty())
            continue;
        const std::string name(spec.name);
        args.push_back(
            spec.is_boolean() ? "--" + name + "=" + (value == "on" ? "true" : "false")
                              : "--" + name + "=" + value
        );
    }
    BOOST_TEST((parse_ok(args) == changed));
    BOOST_TEST((changed != tc::relay_config{}));
}

BOOST_AUTO_TEST_CASE(a_null_getenv_reads_the_process_environment)
{
    ::setenv("TOKENRELAY_RATE_LIMIT", "7", 1);
    const char* argv[] = {"tokenrelay"};
    const auto result = tc::parse(1, argv, nullptr);
    ::unsetenv("TOKENRELAY_RATE_LIMIT");
    BOOST_TEST_REQUIRE(result.config.has_value());
    BOOST_TEST(result.config->rate_limit == 7u);
}

BOOST_AUTO_TEST_SUITE_END()
