#pragma once
// Commands sent together and answered together: one pipelined unit for a connection.

#include <tokenrelay/store/resp.hpp>

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace tokenrelay::store {

class redis_request
{
public:
    /// Adds a command answered by `replies` replies: one, except for (UN)SUBSCRIBE, which
    /// answers once per channel.
    void push(std::span<const std::string_view> args, std::size_t replies = 1)
    {
        append_command(bytes_, args);
        replies_ += replies;
    }
    void push(std::initializer_list<std::string_view> args, std::size_t replies = 1)
    {
        push(std::span<const std::string_view>(args.begin(), args.size()), replies);
    }

    /// Adds every command of `other` after these.
    void append(const redis_request& other)
    {
        bytes_ += other.bytes_;
        replies_ += other.replies_;
    }

    bool empty() const noexcept { return replies_ == 0; }
    /// How many replies answer it: one per command.
    std::size_t replies() const noexcept { return replies_; }
    const std::string& bytes() const noexcept { return bytes_; }

private:
    std::string bytes_;
    std::size_t replies_ = 0;
};

} // namespace tokenrelay::store
