#include "support/test_env.hpp"

#include <cstdlib>
#include <stdexcept>

namespace tokenrelay::test {

std::string required_env(const char* name)
{
    const char* v = std::getenv(name);
    if (!v || !*v)
        throw std::runtime_error(std::string(name) + " is not set (run the tests through ctest)");
    return v;
}

} // namespace tokenrelay::test
