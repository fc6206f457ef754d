#include <tokenrelay/http/host_check.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using tokenrelay::http_server::check_host;
using tokenrelay::http_server::host_verdict;
using tokenrelay::http_server::known_hosts;
using tokenrelay::http_server::known_hosts_of;

namespace {

struct row
{
    std::string host;
    host_verdict verdict;
};

void check_rows(const std::vector<row>& rows, const known_hosts& known)
{
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("Host: " << r.host)
        {
            BOOST_TEST((check_host(r.host, known) == r.verdict));
        }
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(host_check_suite)

BOOST_AUTO_TEST_CASE(addresses_and_loopback_names_are_always_allowed)
{
    const auto allowed = host_verdict::allowed;
    const auto misdirected = host_verdict::misdirected;
    check_rows(
        {
            {"127.0.0.1", allowed},
            {"127.0.0.1:8080", allowed},
            {"10.0.0.11:8080", allowed},
            {"[::1]", allowed},
            {"[::1]:8080", allowed},
            {"[2001:db8::7]:443", allowed},
            {"localhost", allowed},
            {"LOCALHOST:8080", allowed},
            {"localhost.", allowed},
            {"chat.localhost:8080", allowed},
            {"a.b.LocalHost", allowed},
            {"x.localhost.", allowed},
            // Names that only look like an address or loopback are names.
            {"127.0.0.1.nip.io", misdirected},
            {"127.1", misdirected},
            {"2130706433", misdirected},
            {"localhost.attacker.example", misdirected},
            {"localhost-attacker.example", misdirected},
            {"xlocalhost", misdirected},
            {".localhost", misdirected},
            {"x.attacker.example:8080", misdirected},
            {"X.Attacker.Example", misdirected},
            {"", misdirected},
            {":8080", misdirected},
            {".", misdirected},
        },
        known_hosts{}
    );
}

BOOST_AUTO_TEST_CASE(configured_names_compare_without_case_port_or_final_dot)
{
    const std::vector<std::string> public_hosts{
        "chat.example.com", "relay_1.internal", "10.0.0.1.nip.io"};
    const std::vector<std::string> origins{
        "https://app.example.org", "http://dev.example.org:8080", "http://[::1]:3000"};
    const known_hosts known{"0.0.0.0", public_hosts, origins};
    const auto allowed = host_verdict::allowed;
    const auto misdirected = host_verdict::misdirected;
    check_rows(
        {
            {"chat.example.com", allowed},
            {"CHAT.Example.com:443", allowed},
            {"chat.example.com.:8080", allowed},
            {"relay_1.internal:8080", allowed},
            {"10.0.0.1.nip.io:8080", allowed},
            {"app.example.org", allowed},
            {"app.example.org:8443", allowed}, // the port is not compared
            {"dev.example.org", allowed},
            {"0.0.0.0:8080", allowed},
            {"example.com", misdirected},
            {"evil.chat.example.com", misdirected},
            {"chat.example.com.evil", misdirected},
            {"chat.example.co", misdirected},
            {"app.example.org.", allowed},
            {"chat%2eexample.com", misdirected},
        },
        known
    );
}

BOOST_AUTO_TEST_CASE(values_that_are_no_host_are_malformed)
{
    for (const std::string host :
         {"user@localhost",
          "localhost:80:80",
          "local host",
          "localhost/x",
          "[::1",
          "::1",
          "localhost:8o",
          "[v1.x]",
          "[::1]x",
          "a\tb"}) {
        BOOST_TEST_CONTEXT("Host: " << host)
        {
            BOOST_TEST((check_host(host, known_hosts{}) == host_verdict::malformed));
        }
    }
}

BOOST_AUTO_TEST_CASE(known_hosts_come_from_the_config)
{
    tokenrelay::config::relay_config cfg;
    cfg.listen.host = "192.0.2.1";
    cfg.public_hosts = {"chat.example.com"};
    cfg.allowed_origins = {"https://app.example.org"};
    const auto known = known_hosts_of(cfg);
    BOOST_TEST((check_host("chat.example.com", known) == host_verdict::allowed));
    BOOST_TEST((check_host("app.example.org", known) == host_verdict::allowed));
    BOOST_TEST((check_host("other.example.org", known) == host_verdict::misdirected));
}

BOOST_AUTO_TEST_SUITE_END()
