#include "support/relay_fixture.hpp"

#include "support/test_env.hpp"
#include "support/time_scale.hpp"

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <exception>
#include <iostream>

namespace tokenrelay::test {

namespace {

using namespace std::chrono_literals;

constexpr auto start_timeout = 10s;

/// SIGTERM, then SIGKILL after `grace`; the exit status when the process ended by itself.
std::optional<exit_status> stop(child_process& p, std::chrono::milliseconds grace)
{
    if (!p.running())
        return p.wait_exit({});
    p.signal(SIGTERM);
    if (auto s = p.wait_exit(grace))
        return s;
    p.signal(SIGKILL);
    p.wait_exit(5s);
    return std::nullopt;
}

} // namespace

bool current_test_failed()
{
    namespace ut = boost::unit_test;
    if (std::uncaught_exceptions() > 0)
        return true;
    const auto& results = ut::results_collector.results(ut::framework::current_test_case().p_id);
    return results.p_assertions_failed > 0;
}

relay_fixture::relay_fixture(relay_options options) : options_(std::move(options))
{
    std::vector<std::string> mock_args{"--listen", "127.0.0.1:0"};
    if (options_.tls) {
        mock_args.insert(
            mock_args.end(),
            {"--tls-cert", options_.tls->cert.string(), "--tls-key", options_.tls->key.string()}
        );
        // The control endpoints speak HTTPS too; they are the test's, not under test.
        mock_client_tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
        mock_client_tls_->set_verify_mode(ssl::verify_none);
    }
    mock_args.insert(mock_args.end(), options_.mock_flags.begin(), options_.mock_flags.end());
    mock_ = std::make_unique<child_process>(required_env("MOCK_UPSTREAM_BIN"), mock_args);
    mock_port_ = mock_->wait_for_listening(start_timeout);

    const std::string upstream = std::string(options_.tls ? "https://" : "http://") +
                                 options_.upstream_host + ":" + std::to_string(mock_port_) + "/v1";
    const std::string static_dir =
        options_.static_dir.empty() ? required_env("TOKENRELAY_STATIC_DIR") : options_.static_dir;
    std::vector<std::string> args{
        "--listen", "127.0.0.1:0", "--static", static_dir, "--upstream", upstream};
    args.insert(args.end(), options_.flags.begin(), options_.flags.end());
    env_list env;
    if (!options_.api_key.empty())
        env.emplace_back("TOKENRELAY_API_KEY", options_.api_key);
    relay_ = std::make_unique<child_process>(required_env("TOKENRELAY_BIN"), args, env);
    relay_port_ = relay_->wait_for_listening(start_timeout);
}

relay_fixture::~relay_fixture()
{
    // An exit nobody asked for is a crash (or an early exit) of the process under test;
    // a SIGTERM the test did not send must end the relay with 0 (PROTOCOL.md section 2).
    if (relay_) {
        const bool asked = relay_->signalled();
        const auto status = stop(*relay_, 5s);
        if (!asked && status && *status != exit_status{.exited = true, .code = 0})
            BOOST_ERROR("tokenrelay ended during the test or on SIGTERM with " << *status);
    }
    if (mock_) {
        const bool asked = mock_->signalled();
        const auto status = stop(*mock_, 2s);
        if (!asked && status && *status != exit_status{.exited = true, .code = 0})
            BOOST_ERROR("mock_upstream ended during the test or on SIGTERM with " << *status);
    }
    if (relay_ && !options_.api_key.empty()) {
        const auto out = relay_->stdout_text();
        const auto err = relay_->stderr_text();
        BOOST_TEST(
            out.find(options_.api_key) == std::string::npos, "the key is in the relay's stdout"
        );
        BOOST_TEST(
            err.find(options_.api_key) == std::string::npos, "the key is in the relay's stderr"
        );
    }
    if (current_test_failed()) {
        if (relay_)
            std::cerr << "---- tokenrelay stderr ----\n" << relay_->stderr_text();
        if (mock_)
            std::cerr << "---- mock_upstream stderr ----\n" << mock_->stderr_text();
        std::cerr << "----\n";
    }
}

http_result relay_fixture::mock_get(std::string target, std::chrono::milliseconds timeout)
{
    http_options o;
    o.tls = mock_client_tls_.get();
    o.timeout = timeout;
    return http_get(mock_port_, target, {}, o);
}

boost::json::object relay_fixture::mock_stats()
{
    const auto r = mock_get("/_mock/stats", 10s);
    BOOST_TEST_REQUIRE(r.status == 200u);
    return boost::json::parse(r.body).as_object();
}

boost::json::object
relay_fixture::mock_wait(std::string_view field, std::int64_t atleast, int timeout_ms)
{
    const auto r = mock_get(
        "/_mock/wait?field=" + std::string(field) + "&atleast=" + std::to_string(atleast) +
            "&timeout_ms=" + std::to_string(scaled(std::chrono::milliseconds(timeout_ms)).count()),
        std::chrono::milliseconds(timeout_ms) + 10s
    );
    auto stats = boost::json::parse(r.body).as_object();
    BOOST_TEST_REQUIRE(
        r.status == 200u,
        "mock counter " << field << " did not reach " << atleast << " in " << timeout_ms
                        << " ms: " << stats
    );
    return stats;
}

void relay_fixture::mock_reset()
{
    http_options o;
    o.tls = mock_client_tls_.get();
    const auto r = http_request(mock_port_, http::verb::post, "/_mock/reset", {}, {}, o);
    BOOST_TEST_REQUIRE(r.status == 200u);
}

relay_fixture::session relay_fixture::open_session(std::string target)
{
    session s;
    s.ws = std::make_unique<ws_client>();
    s.frame = s.ws->connect(relay_port_, std::move(target));
    return s;
}

std::unique_ptr<child_process> start_relay(std::vector<std::string> args, env_list env)
{
    return std::make_unique<child_process>(
        required_env("TOKENRELAY_BIN"), std::move(args), std::move(env)
    );
}

std::vector<std::string> one_address_load(std::vector<std::string> flags)
{
    for (const char* f :
         {"--max-sessions-per-ip",
          "10000000",
          "--max-generations-per-ip",
          "10000000",
          "--max-detached-sessions",
          "10000000",
          "--rate-limit-per-ip",
          "0"})
        flags.emplace_back(f);
    return flags;
}

std::int64_t mock_prompt_tokens(const boost::json::object& last_body)
{
    std::int64_t chars = 0;
    for (const auto& m : last_body.at("messages").as_array())
        chars += static_cast<std::int64_t>(m.as_object().at("content").as_string().size());
    return std::max<std::int64_t>(1, chars / 4);
}

} // namespace tokenrelay::test
