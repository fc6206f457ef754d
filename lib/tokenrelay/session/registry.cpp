#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/session/registry.hpp>
#include <tokenrelay/session/store_link.hpp>
#include <tokenrelay/store/shared_store.hpp>

#include <functional>

namespace tokenrelay::session {
namespace {

// Replies last seconds; a client that waits about one is likely to find a free upstream
// request without many of them retrying in lockstep.
constexpr std::int64_t overloaded_retry_after_ms = 1000;

std::size_t id_hash(std::string_view id)
{
    return std::hash<std::string_view>{}(id);
}

} // namespace

std::shared_ptr<session> registry::create(
    loop_executor home,
    upstream::model_source& source,
    const session_settings& settings,
    std::string client
)
{
    auto s = std::make_shared<session>(
        make_session_id(), std::move(home), source, settings, *this, std::move(client)
    );
    if (settings.store)
        s->join_store(nullptr);
    const auto h = id_hash(s->id());
    auto& sh = shard_for(h);
    {
        std::lock_guard lock(sh.mutex);
        sh.sessions.emplace(h, s);
    }
    counters.created.fetch_add(1, std::memory_order_relaxed);
    if (auto victim = clients.add_session(s, s->client(), now_ms()))
        end(std::static_pointer_cast<session>(victim));
    return s;
}

void registry::end(const std::shared_ptr<session>& s)
{
    s->end_now();
    forget(*s);
    counters.evicted.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<session> registry::find(std::string_view id) const
{
    const auto h = id_hash(id);
    auto& sh = shard_for(h);
    std::lock_guard lock(sh.mutex);
    auto [first, last] = sh.sessions.equal_range(h);
    for (auto it = first; it != last; ++it)
        if (session_id_equal(it->second->id(), id))
            return it->second;
    return nullptr;
}

std::shared_ptr<session> registry::add(std::shared_ptr<session> s)
{
    const auto h = id_hash(s->id());
    auto& sh = shard_for(h);
    {
        std::lock_guard lock(sh.mutex);
        auto [first, last] = sh.sessions.equal_range(h);
        for (auto it = first; it != last; ++it)
            if (session_id_equal(it->second->id(), s->id()))
                return it->second;
        sh.sessions.emplace(h, s);
    }
    if (auto victim = clients.add_session(s, s->client(), now_ms()))
        end(std::static_pointer_cast<session>(victim));
    return s;
}

awaitable<registry::loaded> registry::load(
    std::string id,
    std::uint64_t last_seq,
    loop_executor home,
    upstream::model_source& source,
    const session_settings& settings,
    std::string client
)
{
    auto& commands = settings.store->at(home).commands();
    auto read = commands.async_exec(store::load_request(store::keys_for(id), 0), use_tuple);
    auto [ec, replies] = co_await std::move(read);
    if (ec)
        co_return loaded{nullptr, errc::store_unavailable};
    auto parsed = parse_stored(replies, id);
    if (!parsed)
        co_return loaded{nullptr, errc::store_unavailable};
    const auto& stored = *parsed;
    if (!stored.exists)
        co_return loaded{nullptr, errc::session_not_found};
    // Frames this client holds and the store lacks went out while it was down, from an
    // instance that keeps the session to itself.
    if (stored.meta.local_only || last_seq > stored.last_seq)
        co_return loaded{nullptr, errc::store_unavailable};
    if (auto here = find(id))
        co_return loaded{here, {}}; // loaded by another connection meanwhile
    auto s =
        std::make_shared<session>(std::move(id), home, source, settings, *this, std::move(client));
    s->join_store(&stored);
    auto kept = add(s);
    if (kept != s)
        s->leave_store();
    else
        metrics::global().store_loads.fetch_add(1, std::memory_order_relaxed);
    co_return loaded{kept, {}};
}

void registry::forget(const session& s)
{
    clients.remove_session(&s);
    const auto h = id_hash(s.id());
    auto& sh = shard_for(h);
    std::lock_guard lock(sh.mutex);
    auto [first, last] = sh.sessions.equal_range(h);
    for (auto it = first; it != last; ++it)
        if (it->second.get() == &s) {
            sh.sessions.erase(it);
            counters.forgotten.fetch_add(1, std::memory_order_relaxed);
            return;
        }
}

reply_admission
registry::admit_reply(std::string_view client, const void* member, upstream::request_slots* slots)
{
    reply_admission out;
    if (refusing_replies_.load(std::memory_order_relaxed)) {
        out.refused = errc::overloaded;
        out.message = "this instance is shutting down; reconnect to continue";
        out.retry_after_ms = overloaded_retry_after_ms;
        return out;
    }
    auto admitted = clients.admit_generation(client, now_ms(), member);
    if (!admitted.ticket) {
        out.refused = admitted.refusal;
        out.message = std::move(admitted.message);
        out.retry_after_ms = admitted.retry_after_ms;
        return out;
    }
    if (admitted.to_cancel)
        std::static_pointer_cast<session>(admitted.to_cancel)->stop(stop_reason::cancelled);
    // Refused rather than queued: a queued request would hold the client's reply while
    // the model API is already saturated.
    if (slots) {
        out.slot = upstream::request_slot(*slots);
        if (!out.slot) {
            admitted.ticket.give_back();
            out.refused = errc::overloaded;
            out.message = "the relay is at its limit of upstream requests; try again soon";
            out.retry_after_ms = overloaded_retry_after_ms;
            return out;
        }
    }
    out.ticket = std::move(admitted.ticket);
    return out;
}

std::size_t registry::size() const
{
    std::size_t n = 0;
    for (auto& sh : shards_) {
        std::lock_guard lock(sh.mutex);
        n += sh.sessions.size();
    }
    return n;
}

std::vector<std::shared_ptr<session>> registry::all() const
{
    std::vector<std::shared_ptr<session>> out;
    for (auto& sh : shards_) {
        std::lock_guard lock(sh.mutex);
        for (auto& [h, s] : sh.sessions)
            out.push_back(s);
    }
    return out;
}

} // namespace tokenrelay::session
