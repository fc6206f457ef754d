#pragma once
// A real binary (tokenrelay, mock_upstream) run as a child of the test, with its output
// captured in files so a test can read it at any time and print it when it fails.

#include "support/temp_dir.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace tokenrelay::test {

using env_list = std::vector<std::pair<std::string, std::string>>;

/// How a child ended: `exited` with `code`, or killed by `signal`.
struct exit_status
{
    bool exited = false;
    int code = -1;
    int signal = 0;

    bool operator==(const exit_status&) const = default;
};

std::ostream& operator<<(std::ostream& os, const exit_status& s);

class child_process
{
public:
    /// Starts `program` with `args`. The child gets the test's environment minus every
    /// TOKENRELAY_* variable (CTest sets some, and the relay reads TOKENRELAY_<FLAG> as
    /// flags), plus `extra_env`. stdin is /dev/null; stdout and stderr go to files.
    child_process(std::string program, std::vector<std::string> args, env_list extra_env = {});
    /// SIGKILL and reap when still running.
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    const std::string& program() const noexcept { return program_; }

    /// Waits for a stdout line containing "listening on" and returns the port after its
    /// last ':'. Throws when the child exits first or the time runs out (with its stderr).
    /// Both waits here are scaled for the build (time_scale.hpp).
    std::uint16_t wait_for_listening(std::chrono::milliseconds timeout);

    /// Waits for `text` in stdout. Throws when the child exits first or the time runs out
    /// (with its stderr).
    void wait_for_output(std::string_view text, std::chrono::milliseconds timeout);

    void signal(int sig);
    /// Whether signal() was ever called: an exit the test did not ask for is a crash.
    bool signalled() const noexcept { return signalled_; }

    /// The exit status once the child has ended, or nothing when it still runs after
    /// `timeout`.
    std::optional<exit_status> wait_exit(std::chrono::milliseconds timeout);
    /// SIGTERM when still running, then wait_exit(timeout): a tidy end at teardown.
    std::optional<exit_status> stop(std::chrono::milliseconds timeout);
    bool running();

    std::string stdout_text() const;
    std::string stderr_text() const;

private:
    bool reap(bool block);

    std::string program_;
    temp_dir dir_;
    pid_t pid_ = -1;
    bool signalled_ = false;
    std::optional<exit_status> status_;
};

} // namespace tokenrelay::test
