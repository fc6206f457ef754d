#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/redact.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

namespace tokenrelay::log {
namespace {

std::atomic<int> min_level_{static_cast<int>(level::info)};
std::atomic<format> format_{format::text};
std::mutex secrets_mutex_;
std::vector<std::string> secrets_;
std::mutex output_mutex_;

std::string_view level_name(level l)
{
    switch (l) {
    case level::debug:
        return "debug";
    case level::info:
        return "info";
    case level::warn:
        return "warn";
    case level::error:
        return "error";
    }
    return "info";
}

std::string timestamp()
{
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto t = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(
        buf,
        sizeof buf,
        "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        static_cast<int>(ms)
    );
    return buf;
}

std::string json_quoted(std::string_view s)
{
    return boost::json::serialize(boost::json::string(s));
}

bool needs_quotes(std::string_view v)
{
    if (v.empty())
        return true;
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20)
            return true;
    return false;
}

} // namespace

void configure(level min_level, format fmt)
{
    min_level_ = static_cast<int>(min_level);
    format_ = fmt;
}

void add_secret(std::string secret)
{
    if (secret.empty())
        return;
    std::lock_guard lock(secrets_mutex_);
    secrets_.push_back(std::move(secret));
}

bool enabled(level l) noexcept
{
    return static_cast<int>(l) >= min_level_.load(std::memory_order_relaxed);
}

void write(level l, std::string_view event, std::span<const field> fields)
{
    if (!enabled(l))
        return;
    std::string line;
    if (format_ == format::json) {
        line = "{\"ts\":" + json_quoted(timestamp()) + ",\"level\":" + json_quoted(level_name(l)) +
               ",\"event\":" + json_quoted(event);
        for (const auto& f : fields)
            line += "," + json_quoted(f.key) + ":" + json_quoted(f.value);
        line += "}\n";
    } else {
        line = timestamp();
        line += ' ';
        line += level_name(l);
        line += ' ';
        line += event;
        for (const auto& f : fields) {
            line += ' ';
            line += f.key;
            line += '=';
            line += needs_quotes(f.value) ? json_quoted(f.value) : f.value;
        }
        line += '\n';
    }
    {
        std::lock_guard lock(secrets_mutex_);
        for (const auto& s : secrets_)
            if (line.find(s) != std::string::npos)
                line = redact(line, s);
    }
    std::lock_guard lock(output_mutex_);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

namespace {

/// What an exception says, whatever its type.
std::string what_of(std::exception_ptr e)
{
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

} // namespace

void connection_failure(std::exception_ptr e)
{
    if (e)
        error("connection_failed", {{"what", what_of(e)}});
}

void task_failure::operator()(std::exception_ptr e) const
{
    if (e)
        error("task_failed", {{"task", std::string(task)}, {"what", what_of(e)}});
}

} // namespace tokenrelay::log
