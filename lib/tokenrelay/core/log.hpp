#pragma once
// Structured, line-oriented logging to stderr. Every line is scrubbed of the registered
// secrets (the upstream key) before it is written, whatever the caller passed in.

#include <exception>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace tokenrelay::log {

enum class level { debug, info, warn, error };
enum class format { text, json };

struct field
{
    std::string_view key;
    std::string value;
};

void configure(level min_level, format fmt);
/// Registers a secret that must never appear in a log line.
void add_secret(std::string secret);
bool enabled(level l) noexcept;

void write(level l, std::string_view event, std::span<const field> fields);
inline void write(level l, std::string_view event, std::initializer_list<field> fields = {})
{
    write(l, event, std::span<const field>(fields.begin(), fields.size()));
}

inline void debug(std::string_view event, std::initializer_list<field> fields = {})
{
    if (enabled(level::debug))
        write(level::debug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<field> fields = {})
{
    if (enabled(level::info))
        write(level::info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<field> fields = {})
{
    write(level::warn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<field> fields = {})
{
    write(level::error, event, fields);
}

/// Completion handler for a connection's detached coroutine: one error line for an
/// exception, so one broken connection never takes the loop down.
void connection_failure(std::exception_ptr e);

/// Completion handler for any other co_spawned coroutine: one error line naming `task`
/// if it ended with an exception, so no coroutine's failure passes unseen.
struct task_failure
{
    std::string_view task;
    void operator()(std::exception_ptr e) const;
};

} // namespace tokenrelay::log
