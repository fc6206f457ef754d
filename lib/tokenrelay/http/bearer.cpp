#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/http/bearer.hpp>

#include <boost/beast/core/string.hpp>

namespace tokenrelay::http_server {

bool bearer_matches(std::string_view authorization, std::string_view token)
{
    constexpr std::string_view scheme = "bearer ";
    return !token.empty() && authorization.size() > scheme.size() &&
           boost::beast::iequals(authorization.substr(0, scheme.size()), scheme) &&
           session_id_equal(authorization.substr(scheme.size()), token);
}

} // namespace tokenrelay::http_server
