#include <tokenrelay/store/log_record.hpp>

#include <charconv>
#include <stdexcept>

namespace tokenrelay::store {

namespace {

std::optional<record_kind> kind_of(std::string_view s)
{
    if (s.size() != 1)
        return std::nullopt;
    switch (s[0]) {
    case 'u':
    case 'p':
    case 't':
    case 'r':
    case 'f':
    case 'e':
    case 'x':
        return static_cast<record_kind>(s[0]);
    default:
        return std::nullopt;
    }
}

std::uint64_t seq_of(std::string_view id)
{
    const auto dash = id.find('-');
    std::uint64_t seq = 0;
    const auto end = id.data() + (dash == std::string_view::npos ? id.size() : dash);
    auto [p, ec] = std::from_chars(id.data(), end, seq);
    if (ec != std::errc{} || p != end || seq == 0)
        throw std::invalid_argument("store log: bad entry id");
    return seq;
}

} // namespace

void push_append(
    redis_request& request, std::string_view log_key, const log_record& r, bool after_error
)
{
    const auto id = std::to_string(r.seq) + (after_error ? "-1" : "-0");
    const char kind = static_cast<char>(r.kind);
    request.push(
        {"XADD", log_key, id, "k", std::string_view(&kind, 1), "m", r.message_id, "d", r.data}
    );
}

std::vector<log_record> parse_records(const resp_value& reply)
{
    if (reply.is_nil())
        return {};
    if (reply.type != resp_value::kind::array)
        throw std::invalid_argument("store log: not an array of entries");
    std::vector<log_record> out;
    out.reserve(reply.elements.size());
    for (const auto& entry : reply.elements) {
        if (entry.type != resp_value::kind::array || entry.elements.size() != 2 ||
            entry.elements[1].type != resp_value::kind::array)
            throw std::invalid_argument("store log: malformed entry");
        log_record r;
        r.seq = seq_of(entry.elements[0].text);
        const auto& fields = entry.elements[1].elements;
        bool has_kind = false;
        for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
            const auto& name = fields[i].text;
            const auto& value = fields[i + 1].text;
            if (name == "k") {
                auto k = kind_of(value);
                if (!k)
                    throw std::invalid_argument("store log: unknown entry kind");
                r.kind = *k;
                has_kind = true;
            } else if (name == "m") {
                r.message_id = value;
            } else if (name == "d") {
                r.data = value;
            }
        }
        if (!has_kind)
            throw std::invalid_argument("store log: entry without a kind");
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace tokenrelay::store
