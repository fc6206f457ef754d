#pragma once
// Sans-I/O: mock_upstream's command line (see app/mock_upstream.cpp).

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tokenrelay::mock {

struct options
{
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string tls_cert; // both set: HTTPS only; both empty: plain HTTP
    std::string tls_key;
    std::chrono::milliseconds token_interval{0};
};

struct options_result
{
    std::optional<options> value;
    std::string error; // one line naming the flag, when value is empty
};

/// Parses `--listen HOST:PORT`, `--tls-cert FILE`, `--tls-key FILE`, `--token-interval-ms N`
/// (each also as `--flag=value`). `args` excludes the program name.
options_result parse_options(std::span<const std::string_view> args);

} // namespace tokenrelay::mock
