#pragma once
// Runs one coroutine on a caller-owned io_context with a deadline, so a hung coroutine
// becomes a failed test instead of a hung test (the boostorg/redis and mysql pattern).

#include <tokenrelay/core/net.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace tokenrelay::test {

/// Runs `task` on `ioc` until it finishes or `timeout` passes. Rethrows what the
/// coroutine threw; throws std::runtime_error when it did not finish in time (its frame is
/// destroyed with `ioc`).
template <class T>
T run_coro(net::io_context& ioc, awaitable<T> task, std::chrono::steady_clock::duration timeout)
{
    bool done = false;
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
    if constexpr (std::is_void_v<T>) {
        net::co_spawn(ioc, std::move(task), [&](std::exception_ptr e) {
            done = true;
            error = e;
        });
    } else {
        net::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T v) {
            done = true;
            error = e;
            if (!e)
                result.emplace(std::move(v));
        });
    }
    if (ioc.stopped())
        ioc.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && ioc.run_one_until(deadline) != 0) {
        if (ioc.stopped())
            ioc.restart();
    }
    if (!done)
        throw std::runtime_error("coroutine did not finish in time");
    if (error)
        std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>)
        return std::move(*result);
}

} // namespace tokenrelay::test
