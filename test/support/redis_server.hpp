#pragma once
// Debian's real redis-server, started by the test on a free loopback port with nothing
// persisted, and killed when the test ends.

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::test {

struct redis_options
{
    std::string password{};                          // requirepass; empty: none
    std::optional<std::filesystem::path> tls_cert{}; // TLS only on the port, with this
    std::optional<std::filesystem::path> tls_key{};  // certificate and key
    std::vector<std::string> extra_args{};
};

class redis_server
{
public:
    explicit redis_server(redis_options options = {});
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    child_process& process() noexcept { return *process_; }

    /// SIGSTOP / SIGCONT: a store that holds its connections open and answers nothing.
    void pause();
    void resume();
    /// Kills it (SIGKILL) and starts it again on the same port, empty.
    void restart();
    void kill();

    /// Runs one command with redis-cli and returns its output, trimmed.
    std::string cli(const std::vector<std::string>& args);

private:
    void launch();

    redis_options options_;
    temp_dir dir_;
    std::unique_ptr<child_process> process_;
    std::uint16_t port_ = 0;
};

} // namespace tokenrelay::test
