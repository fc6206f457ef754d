// Boost.JSON compiled into the fuzz build (its documented header-only mode, one TU): the
// packaged libboost_json is built by GCC without sanitizers, so its bugs and our misuse
// of it would go unseen.
#include <boost/json/src.hpp>
