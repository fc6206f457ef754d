#pragma once
// Everything the relay can be told at start-up (PROTOCOL.md section 7), with the defaults
// the protocol gives.

#include <tokenrelay/core/log.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenrelay::config {

// Flags given in seconds accept decimals ("0.5"), so durations are kept in milliseconds.
using milliseconds = std::chrono::milliseconds;

struct listen_address
{
    // An IP literal without brackets ("::1"); parse() turns "localhost" into 127.0.0.1 so
    // the app can bind it without a resolver.
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;

    bool operator==(const listen_address&) const = default;
};

/// Where sessions live (PROTOCOL.md section 8): this process, or a shared Redis.
struct store_address
{
    bool redis = false; // false: --store memory
    bool tls = false;   // rediss://
    std::string host;
    std::uint16_t port = 6379;
    int db = 0;
    std::string username; // an ACL user, from the URL's user info (never a password)

    bool operator==(const store_address&) const = default;
};

/// The wire format the upstream speaks: OpenAI-compatible chat completions (PROTOCOL.md
/// section 6) or Anthropic's Messages API (`POST {base}/messages`, `x-api-key`, named SSE
/// events).
enum class api_format { openai, anthropic };

// The member initialisers are the defaults: usage() prints them from a default-constructed
// relay_config, so --help cannot disagree with what the relay does.
struct relay_config
{
    listen_address listen;
    std::string static_dir; // empty: resolved next to the binary by the app
    std::string upstream;   // empty: the built-in demo model
    std::string model = "deepseek-v3.2";
    std::vector<std::string> allowed_models; // empty: only `model`
    std::string upstream_ca;                 // extra CA file; empty: system store only
    api_format upstream_format = api_format::openai;
    unsigned threads = 0; // 0: number of cores
    std::size_t max_connections = 100000;
    std::size_t max_connections_per_ip = 1000;
    std::size_t max_sessions_per_ip = 100;       // attached or detached
    std::size_t max_connections_per_session = 8; // tabs and devices on one conversation
    std::size_t max_generations_per_ip = 20;     // replies running at once, both doors
    std::size_t max_detached_sessions = 20000;   // all clients
    std::size_t max_upstream_requests = 10000;   // concurrent upstream requests, all clients
    std::size_t max_message_bytes = 65536;
    // Image URLs (data: URLs hold the image) a chat frame or HTTP body may add on top
    // of max_message_bytes / max_http_body_bytes (PROTOCOL.md section 9).
    std::size_t max_image_bytes = 8u << 20;
    /// The largest WebSocket message read: a chat's images may come on top of the
    /// message limit (the frame decoder holds the rest to it).
    std::size_t largest_frame_bytes() const noexcept { return max_message_bytes + max_image_bytes; }
    milliseconds resume_window{60000};
    milliseconds first_token_timeout{30000};
    milliseconds token_timeout{30000};
    milliseconds idle_timeout{300000};
    milliseconds ping_interval{30000};
    bool compression = false;
    milliseconds drain_timeout{30000};
    unsigned rate_limit = 30;                 // chat messages per minute per session; 0 disables
    unsigned rate_limit_per_ip = 300;         // chats and completions per minute per IP
    double price_input_usd = 0;               // USD per million prompt tokens
    double price_output_usd = 0;              // USD per million completion tokens
    std::uint64_t session_token_budget = 0;   // prompt + completion tokens per session; 0: none
    bool log_content = false;                 // generation_end logs the message and reply
    std::string client_token;                 // empty: open
    std::vector<std::string> allowed_origins; // empty: the relay's own origin
    std::vector<std::string> public_hosts;    // Host names besides addresses and localhost
    std::string metrics_token;                // empty: /metrics is open
    log::level log_level = log::level::info;
    log::format log_format = log::format::text;
    std::string api_key; // from TOKENRELAY_API_KEY or --api-key-file, never a flag
    store_address store;
    std::string store_password; // from TOKENRELAY_STORE_PASSWORD or --store-password-file
    std::string store_ca;       // extra CA file for rediss://; empty: system store only

    // Limits that are fixed by PROTOCOL.md rather than flags, kept here so tests can
    // lower them.
    std::size_t max_context_messages = 200;
    std::size_t max_context_bytes = 1 << 20;
    std::int64_t max_tokens_ceiling = 32768;
    std::size_t max_http_body_bytes = 1 << 20;
    std::size_t outbound_backlog_bytes = 1 << 20; // section 5: pause the upstream past this
    std::size_t replay_log_bytes = 16 << 20;      // section 3: at most 16 MiB per session
    std::size_t history_max_turns = 64;
    std::size_t history_max_bytes = 256 * 1024;
    milliseconds header_timeout{10000}; // slow HTTP headers (slowloris)
    milliseconds upstream_connect_timeout{10000};
    std::size_t upstream_max_retries = 4;      // section 6: 5 attempts in all
    milliseconds upstream_retry_budget{15000}; // section 6: 15 s of waiting in all
    milliseconds demo_token_interval{35};

    bool operator==(const relay_config&) const = default;
};

/// Either a config or the one-line message that names the bad flag.
struct parse_result
{
    std::optional<relay_config> config;
    std::string error;    // non-empty when config is empty
    bool help = false;    // --help was given; `error` holds the usage text
    bool version = false; // --version was given; `error` holds the build information
};

/// Reads flags from argv with TOKENRELAY_<FLAG> environment fallbacks (a flag on the
/// command line wins). `getenv` is injectable for tests; nullptr reads the process
/// environment.
parse_result parse(int argc, const char* const* argv, const char* (*getenv)(const char*));

/// A browser origin in the form the Origin header uses (lower case, default port left
/// out), or nullopt when `text` is not an origin. --allowed-origin values are stored so.
std::optional<std::string> normalize_origin(std::string_view text);

/// The usage text listing every flag and its default.
std::string usage();

} // namespace tokenrelay::config
