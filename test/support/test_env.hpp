#pragma once

#include <string>

namespace tokenrelay::test {

/// The value of an environment variable that CTest sets for integration tests
/// (TOKENRELAY_BIN, MOCK_UPSTREAM_BIN, TOKENRELAY_STATIC_DIR); throws when it is unset.
std::string required_env(const char* name);

} // namespace tokenrelay::test
