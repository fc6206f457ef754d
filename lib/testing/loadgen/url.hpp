#pragma once
// Sans-I/O: the --url of the load generator: ws://HOST:PORT/PATH or http://HOST:PORT/PATH
// (no TLS: the relay and the servers it is compared with run on loopback).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenrelay::loadgen {

struct target_url
{
    std::string scheme; // "ws" or "http"
    std::string host;   // without brackets for IPv6
    std::uint16_t port = 0;
    std::string path; // "/" when none was given; keeps any query
};

std::optional<target_url> parse_url(std::string_view url);

/// `path` with `key=value` appended to its query.
std::string with_query(std::string_view path, std::string_view key, std::string_view value);

} // namespace tokenrelay::loadgen
