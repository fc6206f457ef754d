#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/http/http_session.hpp>
#include <tokenrelay/http/listener.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

namespace tokenrelay::http_server {
namespace {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

/// An accepted connection that has not sent anything yet, and its --header-timeout.
struct silent_connection
{
    tcp::socket socket;
    loop_timer deadline;
};

/// Starts the HTTP session once the client's first bytes arrive (or it hangs up), and
/// closes the connection if nothing comes within --header-timeout. Until then it holds
/// only a socket, a timer and their two waits, not the session's coroutine frames and
/// buffers: clients that connect well before they speak (a connect storm, a loaded load
/// generator) would otherwise leave those kilobytes scattered between the long-lived
/// state of the sessions that open meanwhile, where the allocator keeps them as holes
/// (memory per open session).
void serve_when_readable(
    tcp::socket socket, runtime::loop_context& loop, runtime::relay_state& state
)
{
    const auto deadline = std::chrono::steady_clock::now() + state.config.header_timeout;
    auto waiting =
        std::make_shared<silent_connection>(std::move(socket), loop_timer(loop.executor, deadline));
    waiting->deadline
        .async_wait(net::bind_allocator(op_allocator<void>{}, [waiting](error_code ec) {
            if (ec)
                return;
            // Closing cancels the wait below, which then lets go of the connection.
            error_code ignored;
            waiting->socket.close(ignored);
        }));
    waiting->socket.async_wait(
        tcp::socket::wait_read,
        net::bind_allocator(
            op_allocator<void>{},
            [waiting, &loop, &state, deadline](error_code ec) {
                waiting->deadline.cancel();
                if (ec)
                    return;
                net::co_spawn(
                    loop.executor,
                    run_http_session(std::move(waiting->socket), state, loop, deadline),
                    log::connection_failure
                );
            }
        )
    );
}

} // namespace

std::vector<std::unique_ptr<tcp::acceptor>>
open_acceptors(const std::vector<net::io_context*>& contexts, const tcp::endpoint& ep)
{
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    const auto refuse = [&](const error_code& ec) {
        return std::runtime_error(
            "--listen: cannot listen on " + ep.address().to_string() + ":" +
            std::to_string(ep.port()) + ": " + ec.message()
        );
    };
    // SO_REUSEPORT would also let this process share a port another relay of the same
    // user already listens on, each silently getting part of the connections. A plain
    // bind first turns that into the usual "address already in use".
    if (ep.port() != 0 && !contexts.empty()) {
        tcp::acceptor probe(*contexts.front());
        error_code ec;
        probe.open(ep.protocol(), ec);
        if (!ec)
            probe.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec)
            probe.bind(ep, ec);
        if (ec)
            throw refuse(ec);
    }
    auto bound = ep;
    for (auto* ctx : contexts) {
        auto a = std::make_unique<tcp::acceptor>(*ctx);
        error_code ec;
        a->open(bound.protocol(), ec);
        if (!ec)
            a->set_option(net::socket_base::reuse_address(true), ec);
        if (!ec)
            a->set_option(reuse_port(true), ec);
        if (!ec)
            a->bind(bound, ec);
        if (!ec)
            a->listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            throw refuse(ec);
        // Port 0: the others join the port the first one got.
        bound = a->local_endpoint();
        acceptors.push_back(std::move(a));
    }
    return acceptors;
}

awaitable<void>
accept_loop(tcp::acceptor& acceptor, runtime::loop_context& loop, runtime::relay_state& state)
{
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec == net::error::operation_aborted || !acceptor.is_open())
            co_return;
        if (ec) {
            // Out of file descriptors and similar: keep serving the connections we have.
            log::warn("accept_failed", {{"error", ec.message()}});
            net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        serve_when_readable(std::move(socket), loop, state);
    }
}

} // namespace tokenrelay::http_server
