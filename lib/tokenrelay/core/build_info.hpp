#pragma once

#include <string>

namespace tokenrelay {

/// "tokenrelay VERSION" and what it was built with (Boost, OpenSSL, the upstream reads),
/// one line each, for --version and bug reports.
std::string build_info();

} // namespace tokenrelay
