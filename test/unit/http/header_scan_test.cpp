#include <tokenrelay/http/header_scan.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using tokenrelay::http_server::header_scan;

namespace {

struct scanned
{
    bool complete;
    bool obs_fold;
};

/// Feeds `bytes` as a socket might deliver them: the first `split` bytes, then all.
scanned scan_split(const std::string& bytes, std::size_t split)
{
    header_scan scan;
    scan.feed(std::string_view(bytes).substr(0, split));
    scan.feed(bytes);
    return {scan.complete(), scan.obs_fold()};
}

/// The same verdict whether the bytes come at once, in two parts split anywhere, or one
/// at a time.
scanned scan_every_way(const std::string& bytes)
{
    header_scan whole;
    whole.feed(bytes);
    header_scan bytewise;
    for (std::size_t i = 0; i <= bytes.size(); ++i)
        bytewise.feed(std::string_view(bytes).substr(0, i));
    BOOST_TEST(bytewise.complete() == whole.complete());
    BOOST_TEST(bytewise.obs_fold() == whole.obs_fold());
    for (std::size_t split = 0; split <= bytes.size(); ++split) {
        const auto s = scan_split(bytes, split);
        BOOST_TEST(s.complete == whole.complete(), "split at " << split);
        BOOST_TEST(s.obs_fold == whole.obs_fold(), "split at " << split);
    }
    return {whole.complete(), whole.obs_fold()};
}

} // namespace

BOOST_AUTO_TEST_SUITE(header_scan_suite)

BOOST_AUTO_TEST_CASE(finds_the_end_of_the_header_block)
{
    struct row
    {
        std::string bytes;
        bool complete;
        bool obs_fold;
    };
    const std::vector<row> rows{
        {"", false, false},
        {"GET / HTTP/1.1\r\n", false, false},
        {"GET / HTTP/1.1\r\nHost: a\r\n", false, false},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r", false, false},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, false},
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody or the next request", true, false},
        // Folded lines, with a space or a tab, anywhere after the request line.
        {"GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", true, true},
        {"GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\nHost: a\r\n\r\n", true, true},
        {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", true, true},
        {"GET / HTTP/1.1\r\nX-A: one\r\n two\r\n", false, true},
        // Spaces and tabs inside a line are no fold.
        {"GET / HTTP/1.1\r\nX-A: one \t two\r\n\r\n", true, false},
        // Whatever follows the header is not looked at.
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n folded? no: body\r\n", true, false},
        // Endings the parser refuses end the scan, so the parser gets to refuse them.
        {"GET / HTTP/1.1\nHost: a\n\n", true, false},
        {"GET / HTTP/1.1\r\nHost: a\n", true, false},
        {"\r\nGET / HTTP/1.1\r\n\r\n", true, false},
        {"\n", true, false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("bytes " << r.bytes)
        {
            const auto s = scan_every_way(r.bytes);
            BOOST_TEST(s.complete == r.complete);
            BOOST_TEST(s.obs_fold == r.obs_fold);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_complete_scan_stays_complete)
{
    header_scan scan;
    const std::string bytes = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n fold\r\n\r\n";
    scan.feed(bytes);
    BOOST_TEST(scan.complete());
    // The second request's fold belongs to the next scan.
    BOOST_TEST(!scan.obs_fold());
}

BOOST_AUTO_TEST_SUITE_END()
