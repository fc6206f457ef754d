#include <tokenrelay/http/admission.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

namespace http = boost::beast::http;
using tokenrelay::http_server::admit_request;
using tokenrelay::http_server::known_hosts;

namespace {

using field_list = std::vector<std::pair<http::field, std::string>>;

http::request_header<> header_with(const field_list& fields, unsigned version = 11)
{
    http::request_header<> h;
    h.method(http::verb::post);
    h.target("/v1/chat/completions");
    h.version(version);
    for (const auto& [name, value] : fields)
        h.insert(name, value);
    return h;
}

/// The status admit_request() answers with, or 0 when it admits the request.
unsigned status_of(const field_list& fields, unsigned version = 11, bool obs_fold = false)
{
    const auto refused = admit_request(header_with(fields, version), obs_fold, known_hosts{});
    return refused ? static_cast<unsigned>(refused->status) : 0u;
}

} // namespace

BOOST_AUTO_TEST_SUITE(admission_suite)

BOOST_AUTO_TEST_CASE(transfer_coding_must_end_in_chunked)
{
    using f = http::field;
    struct row
    {
        field_list fields;
        unsigned status;
    };
    const std::vector<row> rows{
        {{{f::host, "localhost"}, {f::transfer_encoding, "chunked"}}, 0},
        {{{f::host, "localhost"}, {f::transfer_encoding, "Chunked"}}, 0},
        {{{f::host, "localhost"}, {f::transfer_encoding, " chunked , "}}, 0},
        {{{f::host, "localhost"}, {f::transfer_encoding, ", chunked"}}, 0},
        {{{f::host, "localhost"}, {f::transfer_encoding, "xchunked"}}, 400},
        {{{f::host, "localhost"}, {f::transfer_encoding, "chunkedx"}}, 400},
        {{{f::host, "localhost"}, {f::transfer_encoding, "chunked, identity"}}, 400},
        {{{f::host, "localhost"}, {f::transfer_encoding, "chunked, chunked"}}, 400},
        {{{f::host, "localhost"},
          {f::transfer_encoding, "chunked"},
          {f::transfer_encoding, "chunked"}},
         400},
        {{{f::host, "localhost"}, {f::transfer_encoding, "gzip"}}, 400},
        {{{f::host, "localhost"}, {f::transfer_encoding, "identity"}}, 400},
        {{{f::host, "localhost"}, {f::transfer_encoding, ""}}, 400},
        {{{f::host, "localhost"}, {f::transfer_encoding, "chunked;x=1"}}, 400},
        // Well framed, but a coding the relay cannot undo (RFC 9112 section 6.1: 501).
        {{{f::host, "localhost"}, {f::transfer_encoding, "gzip, chunked"}}, 501},
        {{{f::host, "localhost"},
          {f::transfer_encoding, "gzip"},
          {f::transfer_encoding, "chunked"}},
         501},
        // With Content-Length, whichever comes first.
        {{{f::host, "localhost"}, {f::transfer_encoding, "chunked"}, {f::content_length, "5"}},
         400},
        {{{f::host, "localhost"}, {f::content_length, "5"}, {f::transfer_encoding, "gzip"}}, 400},
        {{{f::host, "localhost"}, {f::content_length, "5"}}, 0},
        {{{f::host, "localhost"}}, 0},
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
        BOOST_TEST_CONTEXT("row " << i)
        {
            BOOST_TEST(status_of(rows[i].fields) == rows[i].status);
        }
    }
}

BOOST_AUTO_TEST_CASE(transfer_encoding_needs_http_1_1)
{
    BOOST_TEST(status_of({{http::field::transfer_encoding, "chunked"}}, 10) == 400u);
    BOOST_TEST(status_of({{http::field::content_length, "5"}}, 10) == 0u);
}

BOOST_AUTO_TEST_CASE(exactly_one_host_in_http_1_1)
{
    using f = http::field;
    BOOST_TEST(status_of({{f::host, "localhost"}}) == 0u);
    BOOST_TEST(status_of({}) == 400u);
    BOOST_TEST(status_of({{f::host, "localhost"}, {f::host, "localhost"}}) == 400u);
    BOOST_TEST(status_of({{f::host, "localhost"}, {f::host, "other"}}) == 400u);
    // HTTP/1.0 may leave it out, but not send two.
    BOOST_TEST(status_of({}, 10) == 0u);
    BOOST_TEST(status_of({{f::host, "localhost"}, {f::host, "localhost"}}, 10) == 400u);
}

BOOST_AUTO_TEST_CASE(a_folded_line_is_refused)
{
    BOOST_TEST(status_of({{http::field::host, "localhost"}}, 11, true) == 400u);
    BOOST_TEST(status_of({}, 10, true) == 400u);
}

BOOST_AUTO_TEST_CASE(a_host_must_name_the_relay)
{
    using f = http::field;
    // The verdicts themselves are host_check's; here, what each becomes.
    BOOST_TEST(status_of({{f::host, "127.0.0.1:8080"}}) == 0u);
    BOOST_TEST(status_of({{f::host, "localhost"}}) == 0u);
    BOOST_TEST(status_of({{f::host, "x.attacker.example:8080"}}) == 421u);
    BOOST_TEST(status_of({{f::host, "user@localhost"}}) == 400u);
    BOOST_TEST(status_of({{f::host, "x.attacker.example"}}, 10) == 421u);
    // Framing comes first: two Hosts are a bad request, whatever they name.
    BOOST_TEST(status_of({{f::host, "x.attacker.example"}, {f::host, "localhost"}}) == 400u);
    BOOST_TEST(
        status_of({{f::host, "x.attacker.example"}, {f::transfer_encoding, "gzip"}}) == 400u
    );
}

BOOST_AUTO_TEST_CASE(every_refusal_says_why)
{
    const auto refused =
        admit_request(header_with({{http::field::transfer_encoding, "gzip"}}), false, {});
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(!refused->message.empty());
}

BOOST_AUTO_TEST_SUITE_END()
