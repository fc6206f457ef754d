#include <tokenrelay/upstream/endpoint.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace tokenrelay::upstream {
namespace {

struct good_case
{
    std::string url;
    bool tls;
    std::string host;
    std::uint16_t port;
    std::string base_path;
    std::string host_header;
};

} // namespace

BOOST_AUTO_TEST_SUITE(endpoint_parsing)

BOOST_AUTO_TEST_CASE(accepts_base_urls)
{
    const std::vector<good_case> cases{
        {"https://api.deepseek.com/v1", true, "api.deepseek.com", 443, "/v1", "api.deepseek.com"},
        {"https://api.deepseek.com/v1/", true, "api.deepseek.com", 443, "/v1", "api.deepseek.com"},
        {"https://api.deepseek.com", true, "api.deepseek.com", 443, "", "api.deepseek.com"},
        {"https://api.deepseek.com/", true, "api.deepseek.com", 443, "", "api.deepseek.com"},
        {"http://127.0.0.1:11434/v1", false, "127.0.0.1", 11434, "/v1", "127.0.0.1:11434"},
        {"http://example.org", false, "example.org", 80, "", "example.org"},
        {"http://example.org:80/a/b//", false, "example.org", 80, "/a/b", "example.org"},
        {"https://example.org:8443/openai/v1",
         true,
         "example.org",
         8443,
         "/openai/v1",
         "example.org:8443"},
        {"http://[::1]:8000/v1", false, "::1", 8000, "/v1", "[::1]:8000"},
        {"https://[::1]/v1", true, "::1", 443, "/v1", "[::1]"},
        {"HTTPS://Example.org/v1", true, "Example.org", 443, "/v1", "Example.org"},
        {"http://localhost:8080/v1%20beta",
         false,
         "localhost",
         8080,
         "/v1%20beta",
         "localhost:8080"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.url)
        {
            const auto r = parse_endpoint(c.url);
            BOOST_TEST_REQUIRE(r.value.has_value());
            BOOST_TEST(r.error.empty());
            BOOST_TEST(r.value->tls == c.tls);
            BOOST_TEST(r.value->host == c.host);
            BOOST_TEST(r.value->port == c.port);
            BOOST_TEST(r.value->base_path == c.base_path);
            BOOST_TEST(r.value->host_header() == c.host_header);
        }
    }
}

BOOST_AUTO_TEST_CASE(refuses_what_cannot_be_a_base_url)
{
    const std::vector<std::string> bad{
        "",
        "api.deepseek.com/v1",
        "/v1",
        "ftp://example.org/v1",
        "ws://example.org/v1",
        "https:///v1",
        "https://user:pw@example.org/v1",
        "https://example.org/v1?x=1",
        "https://example.org/v1#frag",
        "https://example.org:0/v1",
        "https://example.org:65536/v1",
        "https://example.org:99999999999/v1",
        "https://[v1.x]/v1",
        "http://[::1/v1",
    };
    for (const auto& url : bad) {
        BOOST_TEST_CONTEXT(url)
        {
            const auto r = parse_endpoint(url);
            BOOST_TEST(!r.value.has_value());
            BOOST_TEST(!r.error.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(knows_ip_literals_and_authority)
{
    BOOST_TEST(parse_endpoint("http://127.0.0.1/v1").value->host_is_ip());
    BOOST_TEST(parse_endpoint("http://[::1]/v1").value->host_is_ip());
    BOOST_TEST(!parse_endpoint("http://localhost/v1").value->host_is_ip());
    BOOST_TEST(!parse_endpoint("https://1.example/v1").value->host_is_ip());
    BOOST_TEST(parse_endpoint("https://[::1]/v1").value->authority() == "[::1]:443");
    BOOST_TEST(parse_endpoint("http://example.org/v1").value->authority() == "example.org:80");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
