#pragma once
// One connection to Redis, owned by one event loop and used only on it. Requests are
// pipelined, and their replies matched in order by a FIFO of completions. Writes are a
// group commit: while one round of requests waits for its replies, new requests queue;
// when the last reply of the round arrives, everything queued goes out in one write. At
// low load a request costs one round trip; at high load rounds grow by themselves, with
// no timer to tune.
//
// A round unanswered within the reply timeout, a refused or lost connection, or bytes
// that are not RESP mark the store down: what waits fails, and requests fail at once with
// connection_error::down until the connection is back (it comes back by itself, with
// backoff). A request made while an attempt to connect runs waits for its outcome.
// The codec is hiredis's (resp.hpp); this class only moves bytes.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/store/connection_error.hpp>
#include <tokenrelay/store/redis_request.hpp>
#include <tokenrelay/store/resp.hpp>

#include <boost/asio/any_completion_handler.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tokenrelay::store {

struct redis_endpoint
{
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    int db = 0;
    std::string username; // ACL user for AUTH; empty: the default user
    std::string password; // empty: no AUTH
    /// rediss://: TLS with this context (certificates verified, SNI set to host); a context
    /// serves the connections of one loop only (core/tls_client_context.hpp says why).
    std::shared_ptr<ssl::context> tls;
};

struct connection_timing
{
    std::chrono::milliseconds reply_timeout{2000};
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{2000};
};

using reply_signature = void(error_code, std::vector<resp_value>);

/// The completion for a request whose outcome changes nothing (a touch, a subscription,
/// a best-effort release): the store's own state tells the rest.
inline void ignore_reply(error_code, std::vector<resp_value>)
{}

class redis_connection : public std::enable_shared_from_this<redis_connection>
{
public:
    static std::shared_ptr<redis_connection>
    make(net::any_io_executor executor, redis_endpoint endpoint, connection_timing timing = {});
    ~redis_connection();

    /// Connects, and keeps reconnecting after every loss until stop().
    void start();
    /// Closes the connection for good; whatever waits fails with connection_error::stopped.
    void stop();

    bool up() const noexcept { return up_; }
    /// Called on the loop each time up() changes.
    void on_state_change(std::function<void(bool up)> callback)
    {
        on_state_change_ = std::move(callback);
    }
    /// Makes this a subscriber connection: a pushed Pub/Sub message (["message", channel,
    /// payload]) goes to `callback` instead of answering a request. Subscriptions do not
    /// survive a reconnect: the owner subscribes again when on_state_change says up.
    void on_message(std::function<void(std::string_view channel, std::string_view payload)> callback
    )
    {
        on_message_ = std::move(callback);
    }
    /// Why the store went down last, for the log and /readyz (never holds the password).
    const std::string& last_failure() const noexcept { return last_failure_; }

    /// Sends `request`; completes with one reply per command, in order. An error reply
    /// from Redis is a reply (resp_value::is_error), not an error_code.
    template <class Token> auto async_exec(redis_request request, Token&& token)
    {
        return net::async_initiate<Token, reply_signature>(
            [this](auto handler, redis_request request) {
                submit(std::move(request), std::move(handler));
            },
            token,
            std::move(request)
        );
    }

    struct counters
    {
        std::uint64_t rounds = 0;   // writes
        std::uint64_t requests = 0; // requests answered
        std::uint64_t bytes_out = 0;
    };
    const counters& stats() const noexcept { return stats_; }

private:
    struct pending
    {
        std::size_t replies;
        std::vector<resp_value> got;
        net::any_completion_handler<reply_signature> handler;
    };

    redis_connection(
        net::any_io_executor executor, redis_endpoint endpoint, connection_timing timing
    );

    void submit(redis_request request, net::any_completion_handler<reply_signature> handler);
    awaitable<void> run(std::shared_ptr<redis_connection> self);
    awaitable<error_code> connect_once();
    awaitable<void> read_loop();
    awaitable<void> write_loop();
    awaitable<void> watchdog(std::shared_ptr<redis_connection> self);
    template <class Buffers> awaitable<std::pair<error_code, std::size_t>> write(const Buffers& b);
    awaitable<std::pair<error_code, std::size_t>> read_some(net::mutable_buffer b);
    bool deliver(resp_value value);
    void drop(connection_error why, std::string detail);
    void fail_all(error_code waiting, error_code queued);
    void set_up(bool up);

    net::any_io_executor executor_;
    redis_endpoint endpoint_;
    connection_timing timing_;
    tcp::socket socket_;
    std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
    net::steady_timer wake_;
    net::steady_timer tick_;
    net::steady_timer pause_; // backoff between connection attempts
    reply_reader reader_;
    std::string read_buffer_;

    std::deque<pending> waiting_; // written, replies not all in
    std::deque<pending> queued_;  // not written yet
    std::string outbox_;          // queued_'s bytes
    std::chrono::steady_clock::time_point round_sent_{};
    std::chrono::steady_clock::time_point connect_started_{};

    bool connected_ = false; // the socket carries requests
    bool connecting_ = false;
    bool up_ = false;
    bool stopped_ = false;
    connection_error drop_reason_ = connection_error::lost;
    std::string last_failure_;
    std::string logged_failure_; // the connect failure logged last
    std::function<void(bool)> on_state_change_;
    std::function<void(std::string_view, std::string_view)> on_message_;
    counters stats_;
};

} // namespace tokenrelay::store
