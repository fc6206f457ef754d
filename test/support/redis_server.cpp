#include "support/redis_server.hpp"

#include "support/free_port.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <signal.h>
#include <stdexcept>

namespace tokenrelay::test {

namespace {

// free_loopback_port() leaves a window in which another process may take the port:
// launch() retries.
constexpr int launch_attempts = 5;

} // namespace

redis_server::redis_server(redis_options options) : options_(std::move(options))
{
    std::string last_error;
    for (int attempt = 0; attempt < launch_attempts; ++attempt) {
        port_ = free_loopback_port();
        try {
            launch();
            return;
        } catch (const std::exception& e) {
            last_error = e.what();
            process_.reset();
        }
    }
    throw std::runtime_error("redis-server did not start: " + last_error);
}

redis_server::~redis_server() = default;

void redis_server::launch()
{
    std::vector<std::string> args{
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir_.path().string(),
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "notice",
    };
    if (options_.tls_cert) {
        args.insert(
            args.end(),
            {"--port",
             "0",
             "--tls-port",
             std::to_string(port_),
             "--tls-cert-file",
             options_.tls_cert->string(),
             "--tls-key-file",
             options_.tls_key->string(),
             "--tls-auth-clients",
             "no"}
        );
    } else {
        args.insert(args.end(), {"--port", std::to_string(port_)});
    }
    if (!options_.password.empty())
        args.insert(args.end(), {"--requirepass", options_.password});
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    process_ = std::make_unique<child_process>("/usr/bin/redis-server", args);
    process_->wait_for_output("Ready to accept connections", std::chrono::seconds(10));
}

void redis_server::pause()
{
    process_->signal(SIGSTOP);
}

void redis_server::resume()
{
    process_->signal(SIGCONT);
}

void redis_server::kill()
{
    process_->signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(10));
}

void redis_server::restart()
{
    kill();
    process_.reset();
    launch();
}

std::string redis_server::cli(const std::vector<std::string>& args)
{
    // The password goes by the environment, not the command line (ps shows that).
    std::string cmd =
        options_.password.empty() ? std::string{} : "REDISCLI_AUTH='" + options_.password + "' ";
    cmd += "redis-cli -h 127.0.0.1 -p " + std::to_string(port_);
    if (options_.tls_cert)
        throw std::logic_error("redis_server::cli: not over TLS");
    for (const auto& a : args) {
        cmd += " '";
        for (char c : a)
            cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
        cmd += "'";
    }
    cmd += " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
    if (!pipe)
        throw std::runtime_error("popen redis-cli");
    std::string out;
    std::array<char, 4096> buf{};
    while (auto n = std::fread(buf.data(), 1, buf.size(), pipe.get()))
        out.append(buf.data(), n);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    return out;
}

} // namespace tokenrelay::test
