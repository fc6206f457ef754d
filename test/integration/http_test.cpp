// The relay's plain HTTP doors (PROTOCOL.md section 1): static files, health, and the
// refusals, against a static directory made for the test so content is exact.

#include "support/relay_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

const std::string index_html = "<!doctype html><title>relay test</title><p>index page</p>\n";
const std::string app_js = "console.log(\"app.js for the test\");\n";
const std::string style_css = "body { color: rebeccapurple; }\n";
const std::string secret = "TOP SECRET: outside the static directory\n";

/// root/secret.txt and root/CMakeLists.txt outside root/static; inside, the page, its
/// files, and symlinks that point out of the directory.
struct static_site
{
    temp_dir root;
    std::filesystem::path dir = root / "static";

    static_site()
    {
        root.write_file("secret.txt", secret);
        root.write_file("CMakeLists.txt", secret);
        root.write_file("static/index.html", index_html);
        root.write_file("static/app.js", app_js);
        root.write_file("static/style.css", style_css);
        root.write_file("static/sub/inner.html", index_html);
        root.write_file("static/.env", secret);
        root.write_file("static/.git/config", secret);
        root.write_file("static/sub/.hidden", secret);
        std::filesystem::create_symlink(root / "secret.txt", dir / "link.txt");
        std::filesystem::create_symlink("../secret.txt", dir / "relative-link.txt");
        std::filesystem::create_directory_symlink(root.path(), dir / "linkdir");
    }
};

std::string media_type(const http_result& r)
{
    auto ct = r.header("Content-Type");
    ct = ct.substr(0, ct.find(';'));
    while (!ct.empty() && ct.back() == ' ')
        ct.pop_back();
    return ct;
}

struct http_fixture
{
    static_site site;
    relay_fixture relay{{.static_dir = site.dir.string()}};
};

BOOST_AUTO_TEST_CASE(index_and_files_with_their_types, *scaled_timeout(60))
{
    http_fixture f;
    for (const char* target : {"/", "/index.html"}) {
        BOOST_TEST_CONTEXT(target)
        {
            const auto r = http_get(f.relay.port(), target);
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(r.body == index_html);
            BOOST_TEST(media_type(r) == "text/html");
        }
    }
    auto r = http_get(f.relay.port(), "/app.js");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == app_js);
    // RFC 9239 makes text/javascript the one type; application/javascript is obsolete but
    // still understood by every browser.
    const auto js = media_type(r);
    BOOST_TEST((js == "text/javascript" || js == "application/javascript"), js);

    r = http_get(f.relay.port(), "/style.css");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == style_css);
    BOOST_TEST(media_type(r) == "text/css");

    r = http_get(f.relay.port(), "/sub/inner.html");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == index_html);
}

BOOST_AUTO_TEST_CASE(etag_and_if_none_match, *scaled_timeout(60))
{
    http_fixture f;
    const auto first = http_get(f.relay.port(), "/app.js");
    BOOST_TEST_REQUIRE(first.status == 200u);
    const auto etag = first.header("ETag");
    BOOST_TEST_REQUIRE(!etag.empty());

    const auto again = http_get(f.relay.port(), "/app.js", {{"If-None-Match", etag}});
    BOOST_TEST(again.status == 304u);
    BOOST_TEST(again.body.empty());

    const auto other = http_get(f.relay.port(), "/app.js", {{"If-None-Match", "\"not-it\""}});
    BOOST_TEST(other.status == 200u);
    BOOST_TEST(other.body == app_js);

    // Another file has another tag.
    const auto css = http_get(f.relay.port(), "/style.css");
    BOOST_TEST(css.header("ETag") != etag);
    const auto css_with_js_tag = http_get(f.relay.port(), "/style.css", {{"If-None-Match", etag}});
    BOOST_TEST(css_with_js_tag.status == 200u);
}

BOOST_AUTO_TEST_CASE(nothing_outside_the_static_directory, *scaled_timeout(60))
{
    http_fixture f;
    const auto abs = f.site.root.path().string(); // e.g. /tmp/tokenrelay-test-abc123
    std::string encoded_abs;
    for (char c : abs + "/secret.txt")
        encoded_abs += c == '/' ? std::string("%2f") : std::string(1, c);
    const std::string targets[] = {
        "/../CMakeLists.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fsecret.txt",
        "/..%2FCMakeLists.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/./../secret.txt",
        "/..\\secret.txt",
        "/" + encoded_abs,
        abs + "/secret.txt",
        "/" + abs + "/secret.txt",
        "/link.txt",
        "/relative-link.txt",
        "/linkdir/secret.txt",
    };
    for (const auto& target : targets) {
        BOOST_TEST_CONTEXT(target)
        {
            const auto r = http_get(f.relay.port(), target);
            BOOST_TEST(r.status == 404u);
            BOOST_TEST(r.body.find("TOP SECRET") == std::string::npos);
            BOOST_TEST(r.body.find("root:") == std::string::npos);
        }
    }
    // The raw request line, for targets a client library might tidy up.
    for (const char* target : {"/../secret.txt", "/%2e%2e/secret.txt", "..%2fsecret.txt"}) {
        BOOST_TEST_CONTEXT("raw " << target)
        {
            const auto r = http_raw(
                f.relay.port(),
                std::string("GET ") + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            BOOST_TEST((r.status == 404u || r.status == 400u), r.status);
            BOOST_TEST(r.body.find("TOP SECRET") == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(dotfiles_are_not_served, *scaled_timeout(60))
{
    http_fixture f;
    for (const char* target :
         {"/.env",
          "/%2eenv",
          "/%2Eenv",
          "/.env?x=1",
          "/.git/config",
          "/.git/",
          "/sub/.hidden",
          "/sub/%2ehidden",
          "/./.env",
          "/sub/../.env"}) {
        BOOST_TEST_CONTEXT(target)
        {
            const auto r = http_raw(
                f.relay.port(),
                std::string("GET ") + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            BOOST_TEST(r.status == 404u);
            BOOST_TEST(r.body.find("TOP SECRET") == std::string::npos);
        }
    }
    // A "." segment names no file: it is only skipped.
    BOOST_TEST(http_get(f.relay.port(), "/sub/./inner.html").body == index_html);
}

BOOST_AUTO_TEST_CASE(health_and_readiness, *scaled_timeout(60))
{
    http_fixture f;
    const auto health = http_get(f.relay.port(), "/healthz");
    BOOST_TEST(health.status == 200u);
    BOOST_TEST(health.body == "ok");
    const auto ready = http_get(f.relay.port(), "/readyz");
    BOOST_TEST(ready.status == 200u);
}

BOOST_AUTO_TEST_CASE(refusals, *scaled_timeout(60))
{
    http_fixture f;
    BOOST_TEST_CONTEXT("unknown path")
    {
        const auto r = http_get(f.relay.port(), "/no/such/file.txt");
        BOOST_TEST(r.status == 404u);
        BOOST_TEST(!r.body.empty());
        BOOST_TEST(r.body.size() < 1024u);
    }
    BOOST_TEST_CONTEXT("POST /")
    {
        const auto r = http_request(f.relay.port(), http::verb::post, "/", {}, "x=1");
        BOOST_TEST(r.status == 405u);
    }
    BOOST_TEST_CONTEXT("DELETE /app.js")
    {
        const auto r = http_request(f.relay.port(), http::verb::delete_, "/app.js");
        BOOST_TEST(r.status == 405u);
    }
    BOOST_TEST_CONTEXT("not HTTP")
    {
        const auto r = http_raw(f.relay.port(), "this is not http at all\r\n\r\n");
        BOOST_TEST(r.status == 400u);
    }
    BOOST_TEST_CONTEXT("header line without a colon")
    {
        const auto r = http_raw(
            f.relay.port(), "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nthis line has no colon\r\n\r\n"
        );
        BOOST_TEST(r.status == 400u);
    }
    BOOST_TEST_CONTEXT("body over 1 MiB")
    {
        const std::size_t size = 1024 * 1024 + 1;
        const auto r = http_raw(
            f.relay.port(),
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: " +
                std::to_string(size) + "\r\n\r\n" + std::string(size, ' ')
        );
        BOOST_TEST(r.status == 413u);
    }
    // The relay still serves after all that.
    BOOST_TEST(http_get(f.relay.port(), "/").body == index_html);
}

} // namespace
} // namespace tokenrelay::test
