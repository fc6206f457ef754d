#include "support/time_scale.hpp"

#include <cstdlib>

namespace tokenrelay::test {

namespace {

double build_factor()
{
#if defined(__SANITIZE_THREAD__)
    return 4;
#elif defined(__SANITIZE_ADDRESS__)
    return 2;
#else
    return 1;
#endif
}

double read_factor()
{
    if (const char* v = std::getenv("TOKENRELAY_TEST_TIME_SCALE")) {
        const double f = std::strtod(v, nullptr);
        if (f >= 1)
            return f;
    }
    return build_factor();
}

} // namespace

double time_scale()
{
    static const double factor = read_factor();
    return factor;
}

unsigned scaled_seconds(unsigned seconds)
{
    return static_cast<unsigned>(seconds * time_scale());
}

} // namespace tokenrelay::test
