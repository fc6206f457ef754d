#include <tokenrelay/store/resp.hpp>

#include <hiredis/hiredis.h>
#include <limits>
#include <new>

namespace tokenrelay::store {

void append_command(std::string& out, std::span<const std::string_view> args)
{
    if (args.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw std::length_error("redis command: too many arguments");
    // hiredis takes parallel arrays of pointers and lengths; a small command (the usual
    // case: an append has six arguments) keeps them on the stack.
    constexpr std::size_t on_stack = 16;
    const char* argv_small[on_stack];
    std::size_t lens_small[on_stack];
    std::vector<const char*> argv_big;
    std::vector<std::size_t> lens_big;
    const char** argv = argv_small;
    std::size_t* lens = lens_small;
    if (args.size() > on_stack) {
        argv_big.resize(args.size());
        lens_big.resize(args.size());
        argv = argv_big.data();
        lens = lens_big.data();
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        argv[i] = args[i].data();
        lens[i] = args[i].size();
    }
    char* encoded = nullptr;
    const long long n = redisFormatCommandArgv(&encoded, static_cast<int>(args.size()), argv, lens);
    if (n < 0 || encoded == nullptr)
        throw std::bad_alloc{};
    out.append(encoded, static_cast<std::size_t>(n));
    redisFreeCommand(encoded);
}

namespace {

resp_value to_value(const redisReply& r)
{
    resp_value v;
    switch (r.type) {
    case REDIS_REPLY_STATUS:
        v.type = resp_value::kind::status;
        v.text.assign(r.str, r.len);
        break;
    case REDIS_REPLY_ERROR:
        v.type = resp_value::kind::error;
        v.text.assign(r.str, r.len);
        break;
    case REDIS_REPLY_INTEGER:
        v.type = resp_value::kind::integer;
        v.integer = r.integer;
        break;
    case REDIS_REPLY_STRING:
        v.type = resp_value::kind::string;
        v.text.assign(r.str, r.len);
        break;
    case REDIS_REPLY_ARRAY:
        v.type = resp_value::kind::array;
        v.elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; ++i)
            v.elements.push_back(to_value(*r.element[i]));
        break;
    default:
        v.type = resp_value::kind::nil;
        break;
    }
    return v;
}

} // namespace

struct reply_reader::impl
{
    redisReader* reader = redisReaderCreate();
    ~impl() { redisReaderFree(reader); }
};

reply_reader::reply_reader() : impl_(std::make_unique<impl>())
{
    if (impl_->reader == nullptr)
        throw std::bad_alloc{};
}

reply_reader::~reply_reader() = default;

void reply_reader::reset()
{
    impl_ = std::make_unique<impl>();
    if (impl_->reader == nullptr)
        throw std::bad_alloc{};
}

void reply_reader::feed(std::string_view bytes)
{
    if (bytes.empty())
        return;
    if (redisReaderFeed(impl_->reader, bytes.data(), bytes.size()) != REDIS_OK)
        throw resp_protocol_error(std::string("redis reply: ") + impl_->reader->errstr);
}

std::optional<resp_value> reply_reader::next()
{
    void* raw = nullptr;
    if (redisReaderGetReply(impl_->reader, &raw) != REDIS_OK)
        throw resp_protocol_error(std::string("redis reply: ") + impl_->reader->errstr);
    if (raw == nullptr)
        return std::nullopt;
    auto* reply = static_cast<redisReply*>(raw);
    auto value = to_value(*reply);
    freeReplyObject(reply);
    return value;
}

} // namespace tokenrelay::store
