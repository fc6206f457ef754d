#pragma once
// The text of one token event. A token is a few bytes, and every token is made, moved
// through the event channel and consumed within moments: held inline, it costs no heap
// allocation, where a std::string allocates for anything over 15 bytes (the
// bench's stamped tokens are 22). Longer text goes to the heap.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <string_view>

namespace tokenrelay::upstream {

class token_text
{
public:
    /// Bytes held without a heap allocation. With the size and the heap pointer, one
    /// 64-byte cache line.
    static constexpr std::size_t inline_capacity = 52;

    token_text() noexcept = default;
    token_text(std::string_view text) { assign(text); }

    token_text(token_text&& other) noexcept { *this = std::move(other); }
    token_text& operator=(token_text&& other) noexcept
    {
        size_ = other.size_;
        // The whole array, not size_ bytes: a fixed-size copy is a few register moves.
        inline_ = other.inline_;
        heap_ = std::move(other.heap_);
        other.size_ = 0;
        return *this;
    }
    token_text(const token_text&) = delete;
    token_text& operator=(const token_text&) = delete;
    token_text& operator=(std::string_view text)
    {
        assign(text);
        return *this;
    }

    void assign(std::string_view text)
    {
        if (text.size() <= inline_capacity) {
            // Copied before the heap text goes: `text` may be a view of it (or of inline_).
            if (!text.empty())
                std::memmove(inline_.data(), text.data(), text.size());
            heap_.reset();
        } else {
            auto bytes = std::make_unique_for_overwrite<char[]>(text.size());
            std::memcpy(bytes.get(), text.data(), text.size());
            heap_ = std::move(bytes);
        }
        size_ = static_cast<std::uint32_t>(text.size());
    }

    std::string_view view() const noexcept { return {heap_ ? heap_.get() : inline_.data(), size_}; }
    operator std::string_view() const noexcept { return view(); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    friend bool operator==(const token_text& a, std::string_view b) noexcept
    {
        return a.view() == b;
    }
    friend std::ostream& operator<<(std::ostream& os, const token_text& t)
    {
        return os << t.view();
    }

private:
    std::uint32_t size_ = 0;
    std::array<char, inline_capacity> inline_{}; // zeroed: moves copy all of it
    std::unique_ptr<char[]> heap_;               // set when the text is longer than inline_capacity
};

} // namespace tokenrelay::upstream
