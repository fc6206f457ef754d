#include <tokenrelay/store/connection_error.hpp>

#include <string>

namespace tokenrelay::store {
namespace {

class category final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "tokenrelay.store"; }
    std::string message(int ev) const override
    {
        switch (static_cast<connection_error>(ev)) {
        case connection_error::down:
            return "store down";
        case connection_error::timeout:
            return "store reply timed out";
        case connection_error::lost:
            return "store connection lost";
        case connection_error::protocol:
            return "store sent bytes that are not RESP";
        case connection_error::stopped:
            return "store connection stopped";
        }
        return "store error";
    }
};

} // namespace

const boost::system::error_category& connection_category() noexcept
{
    static const category instance;
    return instance;
}

} // namespace tokenrelay::store
