#include <tokenrelay/session/attachments.hpp>

#include <utility>

namespace tokenrelay::session {

std::size_t attachments::size() const noexcept
{
    if (empty())
        return 0;
    return 1 + (more_ ? more_->size() : 0);
}

attachments::reader* attachments::find(const subscriber* s) noexcept
{
    if (empty() || !s)
        return nullptr;
    if (first_.sub.get() == s)
        return &first_;
    if (more_)
        for (auto& r : *more_)
            if (r.sub.get() == s)
                return &r;
    return nullptr;
}

std::shared_ptr<subscriber> attachments::add(reader r, std::size_t cap)
{
    if (empty()) {
        first_ = std::move(r);
    } else {
        if (!more_)
            more_ = std::make_unique<std::vector<reader>>();
        more_->push_back(std::move(r));
    }
    if (size() <= cap || cap == 0)
        return nullptr;
    auto oldest = std::move(first_.sub);
    erase(0);
    return oldest;
}

bool attachments::remove(const subscriber* s)
{
    if (empty() || !s)
        return false;
    if (first_.sub.get() == s) {
        erase(0);
        return true;
    }
    if (!more_)
        return false;
    for (std::size_t i = 0; i < more_->size(); ++i) {
        if ((*more_)[i].sub.get() == s) {
            erase(i + 1);
            return true;
        }
    }
    return false;
}

std::vector<std::shared_ptr<subscriber>> attachments::clear()
{
    std::vector<std::shared_ptr<subscriber>> gone;
    for_each([&](reader& r) { gone.push_back(std::move(r.sub)); });
    first_ = {};
    more_.reset();
    return gone;
}

void attachments::erase(std::size_t index)
{
    if (index == 0) {
        if (more_ && !more_->empty()) {
            first_ = std::move(more_->front());
            more_->erase(more_->begin());
        } else {
            first_ = {};
        }
    } else {
        more_->erase(more_->begin() + static_cast<std::ptrdiff_t>(index - 1));
    }
    // The vector goes with the last extra connection: a tab closed leaves the session as
    // small as before it opened.
    if (more_ && more_->empty())
        more_.reset();
}

} // namespace tokenrelay::session
