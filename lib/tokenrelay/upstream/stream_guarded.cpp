#include <tokenrelay/core/log.hpp>
#include <tokenrelay/upstream/stream_guarded.hpp>

#include <exception>

namespace tokenrelay::upstream {

awaitable<void>
stream_guarded(model_source& source, chat_request request, event_channel& out, std::string session)
{
    std::string failure;
    try {
        co_await source.stream(std::move(request), out);
        co_return;
    } catch (const std::exception& e) {
        failure = e.what();
    }
    const auto state = co_await net::this_coro::cancellation_state;
    if (is_cancelled(state))
        throw boost::system::system_error(net::error::operation_aborted);
    if (session.empty())
        log::error("upstream_exception", {{"what", failure}});
    else
        log::error("upstream_exception", {{"session", session}, {"what", failure}});
    auto failed = stream_event::failed(errc::upstream_error, "upstream request failed");
    co_await out.async_send(error_code{}, std::move(failed), use_tuple);
}

} // namespace tokenrelay::upstream
