#include "support/temp_dir.hpp"
#include <tokenrelay/files/static_path.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tokenrelay::files {
namespace {

namespace fs = std::filesystem;

// A static root with a file, a subdirectory, and symlinks into and out of it, next to
// a directory outside it whose name shares the root's prefix.
struct static_tree
{
    test::temp_dir dir;
    fs::path base = dir.path();
    fs::path root = base / "root";

    static_tree()
    {
        dir.write_file("root/index.html", "<h1>hi</h1>");
        dir.write_file("root/sub/page.html", "page");
        dir.write_file("outside/secret.txt", "secret");
        dir.write_file("root-evil/f.txt", "evil");
        fs::create_symlink("sub/page.html", root / "link_in");
        fs::create_symlink(base / "outside" / "secret.txt", root / "link_out");
        fs::create_symlink("../outside", root / "dir_out");
        fs::create_symlink("../root-evil/f.txt", root / "prefix_out");
        fs::create_symlink("does-not-exist", root / "dangling");
        fs::create_symlink("sub", root / "dir_in");
        dir.write_file("root/.env", "KEY=secret");
        dir.write_file("root/.git/config", "secret");
        fs::create_symlink(".env", root / "env_link");
        fs::create_symlink(".git", root / "git_link");
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(static_path_tests)

BOOST_AUTO_TEST_CASE(resolve_target_refuses_traversal_and_bad_encoding)
{
    const std::vector<std::string> refused{
        "/../etc/passwd",
        "/%2e%2e/x",
        "/%2E%2E%2Fx",
        "/a/..%2f..%2fx",
        "/..\\x",
        "/%00",
        "/a/%2e%2e/b",
        "/.%2e/x",
        "/%2e./x",
        "/..",
        "/a/..",
        "/a/../b",
        "/a%2f..",
        "/a%5cb", // an encoded backslash
        "/a\\b",
        std::string("/a\0b", 4),
        "/a%00.html",
        "/%",
        "/%2",
        "/a%2",
        "/%zz",
        "/%2g",
        "/%g2",
        "",
        "?x=1",
        "index.html",
        "../etc/passwd",
        "http://example.com/index.html",
        "*",
        // Dotfiles and dot directories, however spelled.
        "/.env",
        "/.git/config",
        "/.git/",
        "/a/.hidden",
        "/%2eenv",
        "/%2Egit/config",
        "/a%2f.env",
        "/./.env",
        "/.well-known/x",
        "/...",
    };
    for (const auto& target : refused) {
        BOOST_TEST_CONTEXT("target " << target)
        {
            const auto r = resolve_target(target);
            BOOST_TEST(!r.has_value(), "resolved to " << r.value_or(""));
        }
    }
}

BOOST_AUTO_TEST_CASE(resolve_target_maps_paths)
{
    const std::vector<std::pair<std::string, std::string>> cases{
        {"/", "index.html"},
        {"/?x=1", "index.html"},
        {"/#top", "index.html"},
        {"/index.html", "index.html"},
        {"/app.js?v=3", "app.js"},
        {"/app.js#x?y", "app.js"},
        {"/a?x=/../../etc/passwd", "a"}, // the query is not part of the path
        {"/a/b/", "a/b/index.html"},
        {"/a/b", "a/b"},
        {"//a//b", "a/b"},
        {"//", "index.html"},
        {"/a/./b", "a/b"},
        {"/a/.", "a/index.html"},
        {"/./", "index.html"},
        {"/%61pp.js", "app.js"},
        {"/sp%20ace.txt", "sp ace.txt"},
        {"/a%2Fb", "a/b"},
        {"/a%2f", "a/index.html"},
        {"/%252e%252e/x", "%2e%2e/x"}, // decoded once only: a literal name
        {"/a..b", "a..b"},
        {"/a.", "a."},
        {"/a/b.env", "a/b.env"},
        {"/caf%C3%A9.txt", "caf\xC3\xA9.txt"},
    };
    for (const auto& [target, want] : cases) {
        BOOST_TEST_CONTEXT("target " << target)
        {
            const auto r = resolve_target(target);
            BOOST_REQUIRE(r.has_value());
            BOOST_TEST(*r == want);
        }
    }
}

BOOST_AUTO_TEST_CASE(resolve_file_inside_root_only)
{
    const static_tree t;
    const std::string root = t.root.string();

    BOOST_TEST(resolve_file(root, "index.html").value_or("") == (t.root / "index.html").string());
    BOOST_TEST(
        resolve_file(root, "sub/page.html").value_or("") == (t.root / "sub" / "page.html").string()
    );
    // A symlink that stays inside resolves to its target.
    BOOST_TEST(
        resolve_file(root, "link_in").value_or("") == (t.root / "sub" / "page.html").string()
    );
    BOOST_TEST(
        resolve_file(root, "dir_in/page.html").value_or("") ==
        (t.root / "sub" / "page.html").string()
    );
    // The root may be given in any spelling that names the same directory.
    BOOST_TEST(
        resolve_file(root + "/", "index.html").value_or("") == (t.root / "index.html").string()
    );
    BOOST_TEST(
        resolve_file((t.base / "outside" / ".." / "root").string(), "index.html").value_or("") ==
        (t.root / "index.html").string()
    );

    const std::vector<std::string> refused{
        "link_out",              // symlink to a file outside
        "dir_out/secret.txt",    // through a symlinked directory outside
        "prefix_out",            // outside, in a sibling whose name starts like the root
        "dangling",              // symlink to nothing
        "missing.html",          // does not exist
        "sub",                   // a directory
        "dir_in",                // a symlink to a directory
        "../outside/secret.txt", // traversal that got past resolve_target
        "sub/../../outside/secret.txt",
        ".env",                                       // a dotfile that got past resolve_target
        ".git/config",                                // in a dot directory
        "env_link",                                   // a symlink to a dotfile
        "git_link/config",                            // through a symlink to a dot directory
        (t.base / "outside" / "secret.txt").string(), // absolute
        "",
    };
    for (const auto& rel : refused) {
        BOOST_TEST_CONTEXT("relative " << rel)
        {
            const auto r = resolve_file(root, rel);
            BOOST_TEST(!r.has_value(), "resolved to " << r.value_or(""));
        }
    }
    BOOST_TEST(!resolve_file((t.base / "nope").string(), "index.html").has_value());
}

BOOST_AUTO_TEST_CASE(resolve_target_then_file)
{
    const static_tree t;
    const auto rel = resolve_target("/sub/page.html?cache=1");
    BOOST_REQUIRE(rel.has_value());
    BOOST_TEST(
        resolve_file(t.root.string(), *rel).value_or("") == (t.root / "sub/page.html").string()
    );

    const auto index = resolve_target("/");
    BOOST_REQUIRE(index.has_value());
    BOOST_TEST(
        resolve_file(t.root.string(), *index).value_or("") == (t.root / "index.html").string()
    );

    // "/sub/" names sub/index.html, which does not exist.
    const auto sub = resolve_target("/sub/");
    BOOST_REQUIRE(sub.has_value());
    BOOST_TEST(!resolve_file(t.root.string(), *sub).has_value());
}

BOOST_AUTO_TEST_CASE(mime_types)
{
    const std::vector<std::pair<std::string, std::string>> cases{
        {"index.html", "text/html; charset=utf-8"},
        {"a/b/page.htm", "text/html; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"APP.JS", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"style.css", "text/css; charset=utf-8"},
        {"data.json", "application/json"},
        {"app.js.map", "application/json"},
        {"logo.svg", "image/svg+xml"},
        {"p.png", "image/png"},
        {"p.jpg", "image/jpeg"},
        {"p.jpeg", "image/jpeg"},
        {"g.gif", "image/gif"},
        {"w.webp", "image/webp"},
        {"favicon.ico", "image/x-icon"},
        {"robots.txt", "text/plain; charset=utf-8"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"m.wasm", "application/wasm"},
        {"x.bin", "application/octet-stream"},
        {"archive.tar.gz", "application/octet-stream"},
        {"README", "application/octet-stream"},
        {"dir.html/README", "application/octet-stream"},
        {"trailing.", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    for (const auto& [path, want] : cases) {
        BOOST_TEST_CONTEXT("path " << path)
        {
            BOOST_TEST(mime_type(path) == want);
        }
    }
}

BOOST_AUTO_TEST_CASE(etags)
{
    BOOST_TEST(make_etag(0x1a2b, 0x5f3c) == "\"1a2b-5f3c\"");
    BOOST_TEST(make_etag(0, 0) == "\"0-0\"");
    BOOST_TEST(make_etag(1, 1700000000123456789) == "\"1-17979cfe3d85cd15\"");
    BOOST_TEST(make_etag(10, 5) != make_etag(10, 6));
    BOOST_TEST(make_etag(10, 5) != make_etag(11, 5));
}

BOOST_AUTO_TEST_CASE(etag_matching)
{
    const std::string tag = "\"1a2b-5f3c\"";
    struct match_case
    {
        std::string header;
        bool match;
    };
    const std::vector<match_case> cases{
        {"\"1a2b-5f3c\"", true},
        {"  \"1a2b-5f3c\"  ", true},
        {"W/\"1a2b-5f3c\"", true}, // If-None-Match compares weakly
        {"\"x\", \"1a2b-5f3c\"", true},
        {"\"x\",\"y\" ,\t\"1a2b-5f3c\"", true},
        {"\"x\", W/\"1a2b-5f3c\", \"y\"", true},
        {"*", true},
        {"bogus, \"1a2b-5f3c\"", true}, // a malformed element does not hide the rest
        {"\"a,b\", \"1a2b-5f3c\"", true},
        {"", false},
        {"\"x\"", false},
        {"\"x\", \"y\"", false},
        {"1a2b-5f3c", false},
        {"\"1a2b-5f3c", false},
        {"\"1a2b-5f3cd\"", false},
        {"\"1a2b\"", false},
        {"w/\"1a2b-5f3c\"", false}, // the weak prefix is case-sensitive
        {"\"a,b\"", false},
    };
    for (const auto& tc : cases) {
        BOOST_TEST_CONTEXT("If-None-Match: " << tc.header)
        {
            BOOST_TEST(etag_matches(tc.header, tag) == tc.match);
        }
    }
    // A weak stored tag still matches its strong spelling.
    BOOST_TEST(etag_matches("\"v1\"", "W/\"v1\""));
    BOOST_TEST(etag_matches("W/\"v1\"", "W/\"v1\""));
    BOOST_TEST(!etag_matches("\"v2\"", "W/\"v1\""));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::files
