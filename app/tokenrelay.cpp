// tokenrelay: flags → config → the relay (lib/tokenrelay/server/run.cpp does the work).

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/server/run.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv)
{
    auto parsed = tokenrelay::config::parse(argc, argv, [](const char* n) -> const char* {
        return std::getenv(n);
    });
    if (parsed.help || parsed.version) {
        std::fputs(parsed.error.c_str(), stdout);
        return 0;
    }
    if (!parsed.config) {
        std::fprintf(stderr, "tokenrelay: %s\n", parsed.error.c_str());
        return 2;
    }
    auto& cfg = *parsed.config;
    tokenrelay::log::configure(cfg.log_level, cfg.log_format);
    // Secrets never reach a log line, whatever carries them there.
    for (const auto* secret :
         {&cfg.api_key, &cfg.client_token, &cfg.metrics_token, &cfg.store_password})
        tokenrelay::log::add_secret(*secret);
    try {
        return tokenrelay::server::run_relay(std::move(cfg));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tokenrelay: %s\n", e.what());
        return 2;
    }
}
