#pragma once
// An OpenAI-compatible chat-completions server over HTTP(S) with streamed SSE replies
// (PROTOCOL.md section 6).

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/upstream/connection_pool.hpp>
#include <tokenrelay/upstream/endpoint.hpp>
#include <tokenrelay/upstream/model_source.hpp>
#include <tokenrelay/upstream/retry_policy.hpp>

#include <chrono>
#include <memory>
#include <random>
#include <string>

namespace tokenrelay::upstream {

/// The wire format the upstream speaks (config.hpp).
using api_format = config::api_format;

struct http_source_options
{
    upstream::endpoint endpoint;
    std::string api_key; // empty: no Authorization (or x-api-key) header
    api_format format = api_format::openai;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds first_token_timeout{30000}; // from request start, retries included
    std::chrono::milliseconds token_timeout{30000};       // longest silence between tokens
    upstream::retry_limits retry_limits;
    // Per loop. Large enough that the ebb and flow of a few thousand chats reuses
    // connections: at 64, a 3,000-session chat crowd kept closing connections as replies
    // ended and opening new ones as the next began. idle_timeout prunes.
    std::size_t max_idle_connections = 1024;
    std::chrono::milliseconds idle_timeout{60000};
};

/// Streams generations from one upstream endpoint over connections it keeps alive.
/// Belongs to one event loop (`loop_executor`, single-threaded): stream() must run there,
/// and one instance must not be shared between threads.
class http_source final : public model_source
{
public:
    /// `tls` may be null for an http:// endpoint; an https:// one without it throws
    /// std::invalid_argument.
    http_source(
        net::any_io_executor loop_executor,
        std::shared_ptr<ssl::context> tls,
        http_source_options options
    );

    awaitable<void> stream(chat_request request, event_channel& out) override;

    /// Connections waiting in the pool for the next request.
    std::size_t idle_connections() const noexcept { return pool_.idle_count(); }

private:
    http_source_options options_;
    connection_pool pool_;
    std::mt19937 random_;
};

} // namespace tokenrelay::upstream
