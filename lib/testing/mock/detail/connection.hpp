#pragma once
// Internals shared by the mock's connection loop (server.cpp) and its chat responses
// (chat_response.cpp). The coroutine templates are instantiated for the two stream types.

#include <tokenrelay/core/net.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <testing/mock/stats.hpp>

namespace tokenrelay::mock::detail {

using plain_stream = tcp::socket;
using tls_stream = ssl::stream<tcp::socket>;
using request = http::request<http::string_body>;

/// Everything the connections share. Owned jointly by the server and every connection
/// coroutine, so a coroutine frame destroyed with the io_context never outlives it.
struct server_state
{
    explicit server_state(net::any_io_executor ex) : acceptor(std::move(ex)) {}

    tcp::acceptor acceptor;
    std::optional<ssl::context> tls; // set: HTTPS only
    std::chrono::milliseconds token_interval{0};
    stats counters;
    /// Set once shutdown starts: coroutine frames destroyed with the io_context then leave
    /// the counters alone.
    bool stopping = false;
};

/// What the connection does once a response has been handled.
enum class after_response {
    keep_alive, // read the next request (HTTP/1.1 persistent connection, RFC 9112 section 9.3)
    close,      // the response is complete; close politely (TLS close_notify, TCP FIN)
    abort,      // the peer is gone or the mock chose to cut it: just close the socket
};

/// A complete non-streamed response with a body; false when the write failed.
template <class Stream>
awaitable<bool> write_simple(
    Stream& s,
    unsigned status,
    std::string body,
    std::string_view content_type,
    bool keep_alive,
    std::optional<std::size_t> retry_after = std::nullopt
);

/// Reads until the peer closes the connection (or the read fails), keeping whatever it
/// reads in `buf` for the request parser; returns early when cancelled. Run beside a writer,
/// it is how a client abort is noticed while the mock streams or stalls.
template <class Stream> awaitable<void> watch_peer_close(Stream& s, beast::flat_buffer& buf);

/// Answers one `.../chat/completions` request per the mock's behaviour contract.
template <class Stream>
awaitable<after_response>
respond_chat(Stream& s, beast::flat_buffer& buf, const request& req, server_state& st);

} // namespace tokenrelay::mock::detail
