#pragma once
// mock_upstream's HTTP(S) server: accept loop, one coroutine per connection, keep-alive,
// the chat-completions behaviour contract and the /_mock/ control endpoints.

#include <tokenrelay/core/net.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace tokenrelay::mock {

namespace detail {
struct server_state;
}

struct server_config
{
    tcp::endpoint listen;
    std::string tls_cert; // PEM chain and key: both set for HTTPS only, both empty for HTTP
    std::string tls_key;
    std::chrono::milliseconds token_interval{0}; // default `mock:interval`
};

class server
{
public:
    /// Binds and listens. Throws std::invalid_argument when the TLS files are unusable and
    /// boost::system::system_error when the address cannot be bound.
    server(net::any_io_executor ex, const server_config& cfg);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// The bound address (the real port when 0 was asked for).
    tcp::endpoint local_endpoint() const;

    /// Starts accepting; connections run on the executor given to the constructor.
    void start();

    /// Stops accepting. Call before stopping the io_context: connections destroyed with it
    /// are then not counted as aborted.
    void stop();

private:
    std::shared_ptr<detail::server_state> state_;
};

} // namespace tokenrelay::mock
