#pragma once
// Whether a request's Host names this relay (PROTOCOL.md section 7, --public-host), the
// guard against DNS rebinding: a page on a name the attacker controls, resolved to the
// relay's address, sends that name as Host and its own origin as Origin, which the origin
// check alone cannot tell from the relay's own page. Sans-I/O.

#include <tokenrelay/config/config.hpp>

#include <span>
#include <string>
#include <string_view>

namespace tokenrelay::http_server {

enum class host_verdict { allowed, malformed, misdirected };

/// The host names the relay answers to besides IP addresses and loopback names.
struct known_hosts
{
    std::string_view listen_host;                 // --listen
    std::span<const std::string> public_hosts;    // --public-host, lower case
    std::span<const std::string> allowed_origins; // --allowed-origin, normalised origins
};

/// Views into `cfg`, which must outlive the result.
known_hosts known_hosts_of(const config::relay_config& cfg);

/// `host` is a Host field's value ("name:port", "[::1]:8080", "127.0.0.1"). Allowed are IP
/// addresses (a rebinding attack needs a name it can point elsewhere), `localhost` and the
/// names under `.localhost` (RFC 6761: resolved to loopback, never by DNS), and `known`;
/// names compare case-insensitively, without the port and a final dot. `malformed` when
/// the value is no `uri-host [":" port]` (RFC 9110 section 7.2).
host_verdict check_host(std::string_view host, const known_hosts& known);

} // namespace tokenrelay::http_server
