#pragma once
// What a child process holds, read from Linux's /proc: the hostile-client tests check that
// memory and file descriptors of the relay stay bounded and come back after an attack.

#include <cstddef>
#include <sys/types.h>

namespace tokenrelay::test {

/// Resident set size in bytes (VmRSS of /proc/<pid>/status); throws when unreadable.
std::size_t resident_bytes(pid_t pid);

/// Open file descriptors (entries of /proc/<pid>/fd); throws when unreadable.
std::size_t open_fd_count(pid_t pid);

} // namespace tokenrelay::test
