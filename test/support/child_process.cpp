#include "support/child_process.hpp"

#include "support/temp_dir.hpp"
#include "support/time_scale.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace tokenrelay::test {

namespace {

// Polling period for waits on the child. The waits themselves have deadlines; this only
// bounds how late after the event they notice it.
constexpr auto poll_period = std::chrono::milliseconds(2);

int open_or_throw(const std::filesystem::path& p, int flags)
{
    const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "open " + p.string());
    return fd;
}

std::vector<std::string> child_environment(const env_list& extra)
{
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        const auto name = entry.substr(0, entry.find('='));
        if (name.starts_with("TOKENRELAY_"))
            continue;
        bool overridden = false;
        for (const auto& [k, v] : extra)
            overridden = overridden || k == name;
        if (!overridden)
            env.emplace_back(entry);
    }
    for (const auto& [k, v] : extra)
        env.push_back(k + "=" + v);
    return env;
}

} // namespace

std::ostream& operator<<(std::ostream& os, const exit_status& s)
{
    if (s.exited)
        return os << "exit code " << s.code;
    return os << "killed by signal " << s.signal;
}

child_process::child_process(std::string program, std::vector<std::string> args, env_list extra_env)
    : program_(std::move(program))
{
    // Everything the child needs is prepared before fork: between fork and exec only
    // async-signal-safe calls are allowed.
    std::vector<std::string> argv_s;
    argv_s.push_back(program_);
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    auto env_s = child_environment(extra_env);
    std::vector<char*> envp;
    for (auto& e : env_s)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    const int in_fd = open_or_throw("/dev/null", O_RDONLY);
    const int out_fd = open_or_throw(dir_ / "stdout", O_WRONLY | O_CREAT | O_TRUNC);
    const int err_fd = open_or_throw(dir_ / "stderr", O_WRONLY | O_CREAT | O_TRUNC);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ == 0) {
        // A test killed by its timeout (Boost.Test longjmps out, destructors do not run)
        // must not leave relays behind.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent)
            ::_exit(127);
        ::dup2(in_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        // Asio's sockets are not close-on-exec: a child holding a copy of a test's client
        // socket would keep that connection open after the test drops it.
        if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
            for (int fd = 3; fd < 65536; ++fd)
                ::close(fd);
        }
        ::execve(program_.c_str(), argv.data(), envp.data());
        const char msg[] = "child_process: execve failed\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(in_fd);
    ::close(out_fd);
    ::close(err_fd);
    if (pid_ < 0)
        throw std::system_error(fork_errno, std::generic_category(), "fork");
}

child_process::~child_process()
{
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        reap(true);
    }
}

bool child_process::reap(bool block)
{
    if (status_)
        return true;
    int st = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != pid_)
        return false;
    exit_status s;
    if (WIFEXITED(st)) {
        s.exited = true;
        s.code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        s.signal = WTERMSIG(st);
    }
    status_ = s;
    return true;
}

bool child_process::running()
{
    return !reap(false);
}

void child_process::signal(int sig)
{
    signalled_ = true;
    if (!status_ && ::kill(pid_, sig) != 0)
        throw std::system_error(errno, std::generic_category(), "kill");
}

std::optional<exit_status> child_process::wait_exit(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    while (!reap(false)) {
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(poll_period);
    }
    return status_;
}

std::uint16_t child_process::wait_for_listening(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    for (;;) {
        const auto out = stdout_text();
        const auto at = out.find("listening on");
        const auto eol = at == std::string::npos ? at : out.find('\n', at);
        if (eol != std::string::npos) {
            const auto line = out.substr(at, eol - at);
            const auto colon = line.rfind(':');
            unsigned port = 0;
            std::size_t i = colon == std::string::npos ? line.size() : colon + 1;
            for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
                port = port * 10 + static_cast<unsigned>(line[i] - '0');
            if (port == 0 || port > 65535)
                throw std::runtime_error(program_ + ": no port in \"" + line + "\"");
            return static_cast<std::uint16_t>(port);
        }
        if (!running()) {
            std::ostringstream msg;
            msg << program_ << " ended before listening (" << *status_ << "); stderr:\n"
                << stderr_text();
            throw std::runtime_error(msg.str());
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(
                program_ + " did not print \"listening on\" in time; stderr:\n" + stderr_text()
            );
        std::this_thread::sleep_for(poll_period);
    }
}

void child_process::wait_for_output(std::string_view text, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    while (stdout_text().find(text) == std::string::npos) {
        if (!running()) {
            std::ostringstream msg;
            msg << program_ << " ended before printing \"" << text << "\" (" << *status_
                << "); output:\n"
                << stdout_text() << stderr_text();
            throw std::runtime_error(msg.str());
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(
                program_ + " did not print \"" + std::string(text) + "\" in time; output:\n" +
                stdout_text() + stderr_text()
            );
        std::this_thread::sleep_for(poll_period);
    }
}

std::string child_process::stdout_text() const
{
    return read_file(dir_ / "stdout");
}

std::optional<exit_status> child_process::stop(std::chrono::milliseconds timeout)
{
    if (running())
        signal(SIGTERM);
    return wait_exit(timeout);
}

std::string child_process::stderr_text() const
{
    return read_file(dir_ / "stderr");
}

} // namespace tokenrelay::test
