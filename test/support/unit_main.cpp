// The single Boost.Test module definition shared by every test executable.
#define BOOST_TEST_MODULE tokenrelay
#include <boost/test/unit_test.hpp>
