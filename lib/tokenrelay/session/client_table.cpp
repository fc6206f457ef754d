#include <tokenrelay/session/client_table.hpp>

#include <utility>

namespace tokenrelay::session {
namespace {

// A client at its bound of running replies, none of them abandoned, waits for one of its
// own to end; replies last seconds.
constexpr std::int64_t generations_retry_after_ms = 1000;
// How often records of clients that hold nothing are looked for; between sweeps such a
// record costs a map entry.
constexpr std::int64_t sweep_interval_ms = 60000;

} // namespace

// ---------------------------------------------------------------------------------------
// generation_ticket

generation_ticket::generation_ticket(generation_ticket&& o) noexcept
    : table_(std::exchange(o.table_, nullptr)), client_(std::move(o.client_)), member_(o.member_),
      number_(o.number_)
{}

generation_ticket& generation_ticket::operator=(generation_ticket&& o) noexcept
{
    if (this != &o) {
        reset();
        table_ = std::exchange(o.table_, nullptr);
        client_ = std::move(o.client_);
        member_ = o.member_;
        number_ = o.number_;
    }
    return *this;
}

void generation_ticket::reset() noexcept
{
    release(false);
}

void generation_ticket::give_back() noexcept
{
    release(true);
}

void generation_ticket::release(bool refund) noexcept
{
    if (auto* t = std::exchange(table_, nullptr))
        t->end_generation(client_, member_, number_, refund);
}

// ---------------------------------------------------------------------------------------
// client_table

client_table::client_record& client_table::record_of(std::string_view client, std::int64_t now_ms)
{
    auto it = clients_.find(std::string(client));
    if (it != clients_.end())
        return it->second;
    if (now_ms - last_sweep_ms_ >= sweep_interval_ms) {
        last_sweep_ms_ = now_ms;
        for (auto i = clients_.begin(); i != clients_.end();) {
            auto next = std::next(i);
            forget_if_idle(i, now_ms);
            i = next;
        }
    }
    return clients_.try_emplace(std::string(client), limits_.chats_per_minute).first->second;
}

void client_table::forget_if_idle(client_map::iterator it, std::int64_t now_ms)
{
    const auto& c = it->second;
    if (c.sessions == 0 && c.generations == 0 && c.limiter.full_at(now_ms))
        clients_.erase(it);
}

bool client_table::may_add_session(std::string_view client) const
{
    std::lock_guard lock(mutex_);
    const auto it = clients_.find(std::string(client));
    return it == clients_.end() || it->second.sessions < limits_.sessions_per_client ||
           !it->second.detached.empty();
}

client_table::member
client_table::add_session(const member& m, std::string_view client, std::int64_t now_ms)
{
    std::lock_guard lock(mutex_);
    auto& c = record_of(client, now_ms);
    ++c.sessions;
    auto& r = members_[m.get()];
    r.client = std::string(client);
    r.weak = m;
    if (c.sessions <= limits_.sessions_per_client || c.detached.empty())
        return nullptr;
    // Section 7: past the bound the client's oldest detached session makes room. It is
    // ended by the caller, and counted out when it is removed.
    auto oldest = members_.find(c.detached.front());
    auto victim = oldest->second.weak.lock();
    leave_detached(oldest->second, c);
    return victim;
}

client_table::member client_table::session_detached(const member& m)
{
    std::lock_guard lock(mutex_);
    const auto it = members_.find(m.get());
    if (it == members_.end() || it->second.detached)
        return nullptr;
    auto& r = it->second;
    auto& c = clients_.at(r.client);
    r.detached = true;
    r.in_all = detached_.insert(detached_.end(), m.get());
    r.in_client = c.detached.insert(c.detached.end(), m.get());
    if (detached_.size() <= limits_.detached_sessions)
        return nullptr;
    auto& oldest = members_.at(detached_.front());
    auto victim = oldest.weak.lock();
    leave_detached(oldest, clients_.at(oldest.client));
    return victim;
}

void client_table::session_attached(const void* m)
{
    std::lock_guard lock(mutex_);
    const auto it = members_.find(m);
    if (it != members_.end() && it->second.detached)
        leave_detached(it->second, clients_.at(it->second.client));
}

void client_table::remove_session(const void* m)
{
    std::lock_guard lock(mutex_);
    const auto it = members_.find(m);
    if (it == members_.end())
        return;
    auto c = clients_.find(it->second.client);
    if (it->second.detached)
        leave_detached(it->second, c->second);
    members_.erase(it);
    --c->second.sessions;
    forget_if_idle(c, last_sweep_ms_);
}

void client_table::leave_detached(member_record& r, client_record& c)
{
    if (!r.detached)
        return;
    detached_.erase(r.in_all);
    c.detached.erase(r.in_client);
    r.detached = false;
}

client_table::admission
client_table::admit_generation(std::string_view client, std::int64_t now_ms, const void* m)
{
    admission a;
    std::lock_guard lock(mutex_);
    auto& c = record_of(client, now_ms);
    member_record* victim = nullptr;
    if (c.generations >= limits_.generations_per_client) {
        // The oldest of the client's own replies that nobody is watching makes room; a
        // client whose replies all have a reader waits for one to end.
        for (const void* d : c.detached) {
            if (auto& r = members_.at(d); r.generation != 0) {
                victim = &r;
                break;
            }
        }
        if (!victim) {
            a.message = "too many replies running for this address; wait for one to end";
            a.retry_after_ms = generations_retry_after_ms;
            return a;
        }
    }
    if (auto wait = c.limiter.try_take(now_ms)) {
        a.message = "too many messages from this address; try again later";
        a.retry_after_ms = *wait;
        return a;
    }
    if (victim) {
        // Counted until it ends, but no longer offered to make room twice.
        victim->generation = 0;
        a.to_cancel = victim->weak.lock();
    }
    ++c.generations;
    const auto number = next_ticket_++;
    if (m) {
        if (auto it = members_.find(m); it != members_.end())
            it->second.generation = number;
    }
    a.ticket = generation_ticket(this, std::string(client), m, number);
    return a;
}

void client_table::end_generation(
    const std::string& client, const void* m, std::uint64_t number, bool refund
) noexcept
{
    std::lock_guard lock(mutex_);
    auto c = clients_.find(client);
    if (c == clients_.end())
        return;
    --c->second.generations;
    if (refund)
        c->second.limiter.give_back();
    if (m) {
        if (auto it = members_.find(m); it != members_.end() && it->second.generation == number)
            it->second.generation = 0;
    }
    forget_if_idle(c, last_sweep_ms_);
}

client_table::counts client_table::totals() const
{
    std::lock_guard lock(mutex_);
    return {clients_.size(), detached_.size()};
}

std::size_t client_table::sessions_of(std::string_view client) const
{
    std::lock_guard lock(mutex_);
    const auto it = clients_.find(std::string(client));
    return it == clients_.end() ? 0 : it->second.sessions;
}

std::size_t client_table::generations_of(std::string_view client) const
{
    std::lock_guard lock(mutex_);
    const auto it = clients_.find(std::string(client));
    return it == clients_.end() ? 0 : it->second.generations;
}

} // namespace tokenrelay::session
