#pragma once
// The connections of one session, oldest first, each with its cursor: the last seq it has
// taken from the session's replay log (PROTOCOL.md section 3). Nearly every session has
// at most one connection, so the first lives inline and a session with one connection
// costs what it did when a session could have only one; further connections live in a
// vector made for the second one. Sans-I/O; the session guards it with its mutex.

#include <tokenrelay/session/subscriber.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tokenrelay::session {

class attachments
{
public:
    struct reader
    {
        std::shared_ptr<subscriber> sub;
        std::uint64_t cursor = 0;
    };

    bool empty() const noexcept { return !first_.sub; }
    std::size_t size() const noexcept;

    /// The reader of `s`, or null when `s` is not attached.
    reader* find(const subscriber* s) noexcept;

    /// Adds `r` as the newest. When that makes more than `cap`, the oldest is removed and
    /// returned (to be closed); otherwise the result is empty.
    std::shared_ptr<subscriber> add(reader r, std::size_t cap);

    /// Removes `s`; false when it was not attached.
    bool remove(const subscriber* s);

    /// Removes every reader and returns them, for the caller to release outside its lock.
    std::vector<std::shared_ptr<subscriber>> clear();

    /// Calls `f(reader&)` for each, oldest first.
    template <class F> void for_each(F&& f)
    {
        if (empty())
            return;
        f(first_);
        if (more_)
            for (auto& r : *more_)
                f(r);
    }

    /// True when `pred(const reader&)` holds for every reader (and there is one).
    template <class Pred> bool all_of(Pred&& pred) const
    {
        if (empty() || !pred(first_))
            return false;
        if (more_)
            for (const auto& r : *more_)
                if (!pred(r))
                    return false;
        return true;
    }

private:
    /// Removes the reader at `index` (0: first_), keeping the order.
    void erase(std::size_t index);

    reader first_;
    std::unique_ptr<std::vector<reader>> more_; // the second and later, made when needed
};

} // namespace tokenrelay::session
