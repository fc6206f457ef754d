#include <tokenrelay/core/error.hpp>

#include <string>

namespace tokenrelay {
namespace {

class category final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "tokenrelay"; }
    std::string message(int ev) const override
    {
        return std::string(code_name(static_cast<errc>(ev)));
    }
};

} // namespace

std::string_view code_name(errc e) noexcept
{
    switch (e) {
    case errc::bad_json:
        return "bad_json";
    case errc::bad_request:
        return "bad_request";
    case errc::unknown_type:
        return "unknown_type";
    case errc::busy:
        return "busy";
    case errc::rate_limited:
        return "rate_limited";
    case errc::session_not_found:
        return "session_not_found";
    case errc::upstream_error:
        return "upstream_error";
    case errc::timeout:
        return "timeout";
    case errc::overloaded:
        return "overloaded";
    case errc::unauthorized:
        return "unauthorized";
    case errc::store_unavailable:
        return "store_unavailable";
    }
    return "unknown";
}

const boost::system::error_category& tokenrelay_category() noexcept
{
    static const category instance;
    return instance;
}

} // namespace tokenrelay
