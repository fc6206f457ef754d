#pragma once
// One mock_upstream and one tokenrelay pointed at it, both the real binaries on loopback
// ports chosen by the kernel.

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/test_key.hpp"
#include "support/time_scale.hpp"
#include "support/ws_client.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::test {

struct mock_tls
{
    std::filesystem::path cert;
    std::filesystem::path key;
};

struct relay_options
{
    std::vector<std::string> flags{};                // extra tokenrelay flags
    std::vector<std::string> mock_flags{};           // extra mock_upstream flags
    std::optional<mock_tls> tls{};                   // the mock speaks HTTPS with this certificate
    std::string upstream_host = "127.0.0.1";         // host name in --upstream
    std::string api_key = std::string(test_api_key); // TOKENRELAY_API_KEY; empty: unset
    std::string static_dir{};                        // empty: TOKENRELAY_STATIC_DIR from CTest
};

class relay_fixture
{
public:
    explicit relay_fixture(relay_options options = {});
    /// Stops both processes, checks the key appears in none of the relay's output, and
    /// prints both processes' stderr when the test has failed.
    ~relay_fixture();
    relay_fixture(const relay_fixture&) = delete;
    relay_fixture& operator=(const relay_fixture&) = delete;

    std::uint16_t port() const noexcept { return relay_port_; }
    std::uint16_t mock_port() const noexcept { return mock_port_; }
    child_process& relay() noexcept { return *relay_; }
    child_process& mock() noexcept { return *mock_; }
    const relay_options& options() const noexcept { return options_; }

    /// GET /_mock/stats.
    boost::json::object mock_stats();
    /// GET /_mock/wait: returns once `field` >= `atleast`; fails the test when the mock
    /// answers 408 (not reached in `timeout_ms`).
    boost::json::object
    mock_wait(std::string_view field, std::int64_t atleast, int timeout_ms = 5000);
    void mock_reset();

    /// A WebSocket session on the relay; the session frame is in `session`.
    struct session
    {
        std::unique_ptr<ws_client> ws;
        boost::json::object frame;
        ws_client* operator->() const { return ws.get(); }
    };
    session open_session(std::string target = "/ws");

private:
    http_result mock_get(std::string target, std::chrono::milliseconds timeout);

    relay_options options_;
    std::unique_ptr<ssl::context> mock_client_tls_;
    std::unique_ptr<child_process> mock_;
    std::unique_ptr<child_process> relay_;
    std::uint16_t mock_port_ = 0;
    std::uint16_t relay_port_ = 0;
};

/// `flags` plus flags that lift the per-client bounds (PROTOCOL.md section 7): every test
/// client connects from 127.0.0.1, so a load test is one client to the relay, and these
/// bounds are not what load tests are about.
std::vector<std::string> one_address_load(std::vector<std::string> flags = {});

/// Whether the running test case has failed so far (or is unwinding): a fixture then
/// prints its processes' output.
bool current_test_failed();

/// Starts tokenrelay alone (no mock) with exactly `args`, for start-up and flag tests.
std::unique_ptr<child_process> start_relay(
    std::vector<std::string> args,
    env_list env = {{"TOKENRELAY_API_KEY", std::string(test_api_key)}}
);

/// The mock's prompt_tokens rule (mock_spec): all message contents' characters / 4, at
/// least 1, computed from the body the mock received.
std::int64_t mock_prompt_tokens(const boost::json::object& last_body);

} // namespace tokenrelay::test
