#include <tokenrelay/core/log.hpp>
#include <tokenrelay/http/http_session.hpp>
#include <tokenrelay/http/listener.hpp>

#include <exception>

namespace tokenrelay::http_server {

awaitable<void> accept_loop(
    tcp::acceptor& acceptor,
    std::vector<net::io_context*> contexts,
    std::vector<ws::loop_context*> loops,
    ws::relay_state& state
)
{
    std::size_t next = 0;
    for (;;) {
        const auto i = next++ % contexts.size();
        auto [ec, socket] = co_await acceptor.async_accept(*contexts[i], use_tuple);
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
        net::co_spawn(
            contexts[i]->get_executor(),
            run_http_session(std::move(socket), state, *loops[i]),
            [](std::exception_ptr e) {
                if (!e)
                    return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log::error("connection_failed", {{"what", x.what()}});
                }
            }
        );
    }
}

} // namespace tokenrelay::http_server
