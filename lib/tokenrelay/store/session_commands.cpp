#include <tokenrelay/store/session_commands.hpp>

#include <boost/json.hpp>

#include <charconv>
#include <stdexcept>

namespace tokenrelay::store {

namespace {

namespace json = boost::json;

// Extends the lease only while it is still ours: a GET then a PEXPIRE from the client
// could extend a lease another instance took in between.
constexpr std::string_view renew_script =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
constexpr std::string_view release_script = "if redis.call('get', KEYS[1]) == ARGV[1] then "
                                            "return redis.call('del', KEYS[1]) else return 0 end";

// The XRANGE start for "after seq N": past N's highest ID (`-1`, which a stream_end
// after an error takes), or the whole log for 0. "(" makes the start exclusive.
std::string after(std::uint64_t seq)
{
    return seq == 0 ? std::string("-") : "(" + std::to_string(seq) + "-1";
}

std::string ms(std::chrono::milliseconds d)
{
    return std::to_string(d.count());
}

void push_meta(redis_request& r, const session_keys& k, const stored_meta& m)
{
    const auto next = std::to_string(m.next_message);
    const auto through = std::to_string(m.through_seq);
    const auto prompt = std::to_string(m.prompt_tokens);
    const auto completion = std::to_string(m.completion_tokens);
    const auto cost = std::to_string(m.cost_usd);
    r.push(
        {"HSET",
         k.meta,
         "next",
         next,
         "through",
         through,
         "ptok",
         prompt,
         "ctok",
         completion,
         "cost",
         cost,
         "local",
         m.local_only ? "1" : "0"}
    );
}

std::uint64_t to_u64(std::string_view s)
{
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size())
        throw std::invalid_argument("store: not a number");
    return v;
}

std::int64_t to_i64(std::string_view s)
{
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size())
        throw std::invalid_argument("store: not a number");
    return v;
}

stored_meta parse_meta(const resp_value& hgetall)
{
    stored_meta m;
    const auto& f = hgetall.elements;
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        const auto& name = f[i].text;
        const auto& value = f[i + 1].text;
        if (name == "next")
            m.next_message = to_u64(value);
        else if (name == "through")
            m.through_seq = to_u64(value);
        else if (name == "ptok")
            m.prompt_tokens = to_i64(value);
        else if (name == "ctok")
            m.completion_tokens = to_i64(value);
        else if (name == "cost")
            m.cost_usd = std::strtod(value.c_str(), nullptr);
        else if (name == "local")
            m.local_only = value == "1";
    }
    return m;
}

} // namespace

std::string encode_turn(const stored_turn& t)
{
    json::object o;
    o["role"] = t.role;
    o["content"] = t.content;
    o["id"] = t.id;
    if (!t.parts.empty())
        o["parts"] = t.parts;
    return json::serialize(o);
}

stored_turn decode_turn(std::string_view text)
{
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (!o)
        throw std::invalid_argument("store history: not a JSON object");
    stored_turn t;
    auto field = [&](std::string_view name) {
        const auto* s = o->if_contains(name);
        if (!s || !s->is_string())
            throw std::invalid_argument("store history: a turn without " + std::string(name));
        return std::string(s->get_string());
    };
    t.role = field("role");
    t.content = field("content");
    t.id = field("id");
    if (const auto* parts = o->if_contains("parts"); parts && parts->is_string())
        t.parts = std::string(parts->get_string());
    return t;
}

redis_request append_request(
    const session_keys& k,
    std::span<const log_record> records,
    const stored_meta* meta,
    std::optional<std::chrono::milliseconds> touch_ttl
)
{
    redis_request r;
    bool after_error = false;
    for (const auto& rec : records) {
        push_append(r, k.log, rec, after_error && rec.kind == record_kind::end);
        after_error = rec.kind == record_kind::error;
    }
    if (meta)
        push_meta(r, k, *meta);
    const auto last = records.empty() ? std::string("0") : std::to_string(records.back().seq);
    r.push({"PUBLISH", k.notify, last});
    if (touch_ttl)
        push_touch(r, k, *touch_ttl);
    return r;
}

bool append_succeeded(const std::vector<resp_value>& replies)
{
    for (const auto& v : replies)
        if (v.is_error())
            return false;
    return true;
}

redis_request load_request(const session_keys& k, std::uint64_t after_seq)
{
    redis_request r;
    r.push({"MULTI"});
    r.push({"HGETALL", k.meta});
    r.push({"LRANGE", k.history, "0", "-1"});
    r.push({"XRANGE", k.log, after(after_seq), "+"});
    r.push({"XREVRANGE", k.log, "+", "-", "COUNT", "1"});
    r.push({"EXISTS", k.lease});
    r.push({"EXEC"});
    return r;
}

stored_session parse_load(const std::vector<resp_value>& replies)
{
    // MULTI's OK, six QUEUED, then EXEC's array of the five results.
    if (replies.size() != 7 || replies.back().type != resp_value::kind::array ||
        replies.back().elements.size() != 5)
        throw std::invalid_argument("store load: unexpected replies");
    const auto& got = replies.back().elements;
    for (const auto& g : got)
        if (g.is_error())
            throw std::invalid_argument("store load: " + g.text);
    stored_session s;
    s.exists = !got[0].elements.empty();
    if (!s.exists)
        return s;
    s.meta = parse_meta(got[0]);
    for (const auto& turn : got[1].elements)
        s.history.push_back(decode_turn(turn.text));
    s.records = parse_records(got[2]);
    const auto last = parse_records(got[3]);
    s.last_seq = last.empty() ? 0 : last.back().seq;
    s.leased = got[4].integer == 1;
    return s;
}

redis_request read_request(const session_keys& k, std::uint64_t after_seq)
{
    redis_request r;
    r.push({"XRANGE", k.log, after(after_seq), "+"});
    return r;
}

redis_request take_lease_request(
    const session_keys& k, std::string_view instance, std::chrono::milliseconds lease_ttl
)
{
    redis_request r;
    r.push({"SET", k.lease, instance, "PX", ms(lease_ttl), "NX"});
    return r;
}

void push_renew_lease(
    redis_request& r,
    const session_keys& k,
    std::string_view instance,
    std::chrono::milliseconds lease_ttl
)
{
    r.push({"EVAL", renew_script, "1", k.lease, instance, ms(lease_ttl)});
}

redis_request end_turn_request(
    const session_keys& k,
    std::span<const stored_turn> turns,
    std::size_t max_turns,
    std::uint64_t keep_from_seq,
    const stored_meta& meta,
    std::string_view instance,
    std::chrono::milliseconds ttl
)
{
    redis_request r;
    if (!turns.empty()) {
        std::vector<std::string> encoded;
        for (const auto& t : turns)
            encoded.push_back(encode_turn(t));
        std::vector<std::string_view> args{"RPUSH", k.history};
        for (const auto& e : encoded)
            args.push_back(e);
        r.push(args);
        r.push({"LTRIM", k.history, "-" + std::to_string(max_turns), "-1"});
    }
    if (keep_from_seq > 1)
        r.push({"XTRIM", k.log, "MINID", std::to_string(keep_from_seq)});
    push_meta(r, k, meta);
    r.push({"EVAL", release_script, "1", k.lease, instance});
    push_touch(r, k, ttl);
    return r;
}

redis_request release_lease_request(const session_keys& k, std::string_view instance)
{
    redis_request r;
    r.push({"EVAL", release_script, "1", k.lease, instance});
    return r;
}

redis_request
save_meta_request(const session_keys& k, const stored_meta& meta, std::chrono::milliseconds ttl)
{
    redis_request r;
    push_meta(r, k, meta);
    push_touch(r, k, ttl);
    return r;
}

void push_touch(redis_request& r, const session_keys& k, std::chrono::milliseconds ttl)
{
    const auto t = ms(ttl);
    r.push({"PEXPIRE", k.meta, t});
    r.push({"PEXPIRE", k.log, t});
    r.push({"PEXPIRE", k.history, t});
}

redis_request cancel_request(const session_keys& k)
{
    redis_request r;
    r.push({"PUBLISH", k.cancel, "cancel"});
    return r;
}

} // namespace tokenrelay::store
