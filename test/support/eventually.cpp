#include "support/eventually.hpp"

#include "support/time_scale.hpp"

#include <thread>

namespace tokenrelay::test {

bool eventually(const std::function<bool()>& done, std::chrono::steady_clock::duration timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
    for (;;) {
        if (done())
            return true;
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

} // namespace tokenrelay::test
