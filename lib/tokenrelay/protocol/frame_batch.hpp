#pragma once
// The frames one writer pass sends. Cleared between passes without giving back the
// strings' memory, so a connection that keeps streaming serialises its frames into
// buffers it already has instead of allocating one per token.

#include <cstddef>
#include <string>
#include <vector>

namespace tokenrelay::protocol {

class frame_batch
{
public:
    /// A new, empty frame at the end of the batch, to serialise into.
    std::string& add()
    {
        if (used_ == frames_.size())
            frames_.emplace_back();
        auto& f = frames_[used_++];
        f.clear();
        return f;
    }
    void push(std::string&& frame) { add().swap(frame); }

    bool empty() const noexcept { return used_ == 0; }
    std::size_t size() const noexcept { return used_; }
    const std::string& operator[](std::size_t i) const { return frames_[i]; }
    const std::string* begin() const noexcept { return frames_.data(); }
    const std::string* end() const noexcept { return frames_.data() + used_; }

    /// Forgets the frames, keeping their buffers for the next pass.
    void clear() noexcept { used_ = 0; }
    /// For a connection going quiet: keeps one small buffer, frees the rest, so an idle
    /// connection holds little.
    void release(std::size_t keep_bytes = 1024)
    {
        used_ = 0;
        if (frames_.size() > 1)
            frames_.resize(1);
        if (!frames_.empty() && frames_.front().capacity() > keep_bytes)
            std::string().swap(frames_.front());
    }

private:
    std::vector<std::string> frames_;
    std::size_t used_ = 0;
};

} // namespace tokenrelay::protocol
