#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/http/bearer.hpp>
#include <tokenrelay/http/upgrade_access.hpp>

#include <algorithm>
#include <cctype>

namespace tokenrelay::http_server {
namespace {

std::string lowercase(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool token_matches(const upgrade_credentials& r, const std::string& token)
{
    return bearer_matches(r.authorization, token) ||
           (!r.query_token.empty() && session_id_equal(r.query_token, token));
}

bool origin_allowed(const upgrade_credentials& r, const std::vector<std::string>& allowed)
{
    if (r.origin.empty())
        return true; // curl, wscat and servers send no Origin
    const auto origin = config::normalize_origin(r.origin);
    if (!origin)
        return false;
    if (!allowed.empty())
        return std::find(allowed.begin(), allowed.end(), *origin) != allowed.end();
    // The relay's own page: the origin names the host the request was sent to.
    const auto host = lowercase(r.host);
    for (std::string_view scheme : {"http://", "https://"}) {
        if (config::normalize_origin(std::string(scheme) + host) == origin)
            return true;
    }
    return false;
}

} // namespace

upgrade_verdict check_upgrade(
    const upgrade_credentials& request,
    const std::string& client_token,
    const std::vector<std::string>& allowed_origins
)
{
    if (!client_token.empty() && !token_matches(request, client_token))
        return upgrade_verdict::unauthorized;
    if (!origin_allowed(request, allowed_origins))
        return upgrade_verdict::forbidden_origin;
    return upgrade_verdict::allowed;
}

} // namespace tokenrelay::http_server
