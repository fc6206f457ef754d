#pragma once
// For tests that check a path allocates nothing. Linking counted_allocation.cpp
// into a test binary replaces the global allocation functions there with ones that count:
// operator new for what C++ code allocates, aligned_alloc for what Asio allocates for its
// operations. Only the binaries that ask for it get it (test/CMakeLists.txt).

#include <cstddef>

namespace tokenrelay::test {

/// Allocations made so far by any thread of this process.
std::size_t allocations_so_far() noexcept;

} // namespace tokenrelay::test
