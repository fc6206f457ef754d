#pragma once
// A FIFO with random access that holds no heap memory while empty. std::deque would do the
// job, but libstdc++'s allocates a map and a 512-byte node on construction, and every
// session holds two queues (replay log, history) whether it ever chats or not.
// Here a vector holds the elements and a head index counts the ones popped from the
// front; the dead prefix is erased once it is as long as the live part, so pop_front is
// amortised O(1) and indexing is one addition.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace tokenrelay::session {

template <class T> class front_queue
{
    // A popped element is destroyed at once and a default one built in its slot (see
    // pop_front); that rebuild must not throw, or the vector would hold a dead object.
    static_assert(std::is_nothrow_default_constructible_v<T>);

public:
    using value_type = T;
    using iterator = typename std::vector<T>::iterator;
    using const_iterator = typename std::vector<T>::const_iterator;

    front_queue() noexcept = default;

    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }
    /// Elements the storage can hold without reallocating, dead prefix included.
    std::size_t capacity() const noexcept { return items_.capacity(); }

    T& operator[](std::size_t i) noexcept { return items_[head_ + i]; }
    const T& operator[](std::size_t i) const noexcept { return items_[head_ + i]; }
    T& front() noexcept { return items_[head_]; }
    const T& front() const noexcept { return items_[head_]; }
    T& back() noexcept { return items_.back(); }
    const T& back() const noexcept { return items_.back(); }

    // Like a vector's, these are invalidated by push_back and pop_front.
    iterator begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    iterator end() noexcept { return items_.end(); }
    const_iterator begin() const noexcept
    {
        return items_.begin() + static_cast<std::ptrdiff_t>(head_);
    }
    const_iterator end() const noexcept { return items_.end(); }

    void push_back(T&& value) { items_.push_back(std::move(value)); }
    void push_back(const T& value) { items_.push_back(value); }

    /// Removes the first element; the queue must not be empty.
    void pop_front()
    {
        // Destroyed now, not at the next compaction: a dropped replay-log entry must free
        // its text at once or the log's byte bound would not bound memory. Assigning T{}
        // would not do, since std::string's move assignment from a short string keeps its
        // own buffer.
        T* dead = &items_[head_];
        std::destroy_at(dead);
        std::construct_at(dead);
        ++head_;
        if (head_ == items_.size()) {
            clear();
        } else if (head_ * 2 >= items_.size()) {
            compact();
        }
    }

    /// Removes every element and releases the storage.
    void clear() noexcept
    {
        std::vector<T>().swap(items_);
        head_ = 0;
    }

private:
    // Dead entries are at least as many as live ones, so the moves here are paid for by
    // the pops that made them dead.
    void compact()
    {
        items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
        // An idle session must not keep the peak capacity of a long reply that was
        // trimmed away; small queues keep theirs so push/pop near empty does not churn.
        if (items_.capacity() >= 4 * std::max(items_.size(), min_shrunk_capacity))
            items_.shrink_to_fit();
    }

    static constexpr std::size_t min_shrunk_capacity = 16;

    std::vector<T> items_;
    std::size_t head_ = 0; // popped elements still at the front of items_
};

} // namespace tokenrelay::session
