#include "support/nginx.hpp"

#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "support/time_scale.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace tokenrelay::test {

using namespace std::chrono_literals;

std::unique_ptr<child_process>
start_nginx(const std::filesystem::path& dir, std::uint16_t port, std::chrono::milliseconds timeout)
{
    BOOST_TEST_REQUIRE(
        std::filesystem::exists(nginx_bin),
        nginx_bin.string() << " is missing: run scripts/install-deps"
    );
    const auto d = dir.string();
    auto nginx = std::make_unique<child_process>(
        nginx_bin.string(),
        std::vector<std::string>{
            "-p",
            d,
            "-c",
            d + "/nginx.conf",
            "-e",
            d + "/error.log",
            "-g",
            "daemon off; master_process off;"}
    );
    // nginx says nothing when it is ready; only asking shows it.
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    for (;;) {
        BOOST_TEST_REQUIRE(
            nginx->running(),
            "nginx exited: " << nginx->stderr_text() << read_file(dir / "error.log")
        );
        try {
            if (http_get(port, "/healthz", {}, {.timeout = 1000ms}).status == 200u)
                return nginx;
        } catch (const std::exception&) {
            // Not listening yet.
        }
        BOOST_TEST_REQUIRE(
            (std::chrono::steady_clock::now() < deadline),
            "nginx did not come up: " << read_file(dir / "error.log")
        );
    }
}

} // namespace tokenrelay::test
