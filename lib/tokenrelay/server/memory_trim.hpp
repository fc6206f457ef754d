#pragma once
// glibc keeps freed memory in its arenas and returns only what lies at a heap's top, so
// after a storm of sessions ends (a client that opened thousands and left), the relay's
// RSS would stay at its peak. Every few seconds, when many sessions have ended since the
// last look, malloc_trim hands the free pages in the middle of the arenas back too.

#include <tokenrelay/core/net.hpp>
#include <tokenrelay/runtime/relay_state.hpp>

namespace tokenrelay::server {

/// Runs until its timer is cancelled (the loop stops).
awaitable<void> return_freed_memory(runtime::relay_state& state);

} // namespace tokenrelay::server
