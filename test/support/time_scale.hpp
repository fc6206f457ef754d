#pragma once
// Waits for an event stretched for slow builds. A sanitizer build runs the relay several
// times slower, and a busy machine slower still, so a test's deadline for something that
// must happen (a frame, a process start, a gauge reaching 0) is multiplied by the build's
// factor. Only such waits are scaled: a timeout that is itself what a test checks, and a
// wait that checks that nothing happens, are not.
//
// The factor: TOKENRELAY_TEST_TIME_SCALE when set, else 4 under ThreadSanitizer, 2 under
// AddressSanitizer, 1 otherwise.

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace tokenrelay::test {

double time_scale();

template <class Rep, class Period>
std::chrono::milliseconds scaled(std::chrono::duration<Rep, Period> d)
{
    const auto ms = std::chrono::duration<double, std::milli>(d).count() * time_scale();
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
}

/// A test case's time limit in seconds (boost::unit_test::timeout), scaled alike.
unsigned scaled_seconds(unsigned seconds);

/// The decorator for it: BOOST_AUTO_TEST_CASE(name, *scaled_timeout(60)).
inline boost::unit_test::timeout scaled_timeout(unsigned seconds)
{
    return boost::unit_test::timeout(scaled_seconds(seconds));
}

} // namespace tokenrelay::test
