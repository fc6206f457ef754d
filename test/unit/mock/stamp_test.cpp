// `mock:stamp` (docs/mock_upstream.md): token text `w<i>@<unix-micros> `, the slot reserved
// by the writer and filled by the I/O layer.

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/mock/stream_writer.hpp>
#include <vector>

namespace mock = tokenrelay::mock;
namespace json = boost::json;

namespace {

mock::chat_input input()
{
    mock::chat_input in;
    in.model_json = R"("m")";
    in.last_content = "hi";
    in.prompt_chars = 2;
    return in;
}

std::vector<mock::sse_piece> run(const std::string& directives)
{
    mock::stream_writer w(mock::parse_directives(directives), input(), 7, 1700000000);
    std::vector<mock::sse_piece> pieces;
    while (auto p = w.next())
        pieces.push_back(std::move(*p));
    return pieces;
}

std::string content_of(const mock::sse_piece& p)
{
    const auto v = json::parse(p.bytes.substr(6, p.bytes.size() - 8));
    return std::string(v.at_pointer("/choices/0/delta/content").as_string());
}

} // namespace

BOOST_AUTO_TEST_SUITE(mock_stamp)

BOOST_AUTO_TEST_CASE(directive_is_parsed)
{
    BOOST_TEST(mock::parse_directives("hello mock:stamp").stamp);
    BOOST_TEST(!mock::parse_directives("hello").stamp);
}

BOOST_AUTO_TEST_CASE(tokens_carry_a_slot_that_fill_stamp_writes)
{
    auto pieces = run("mock:tokens=3 mock:stamp mock:interval=5");
    // role, w0, w1, w2, finish, usage, [DONE]
    BOOST_REQUIRE(pieces.size() == 7u);
    BOOST_TEST(!pieces[0].stamp_at);
    BOOST_TEST(!pieces[4].stamp_at);
    for (std::size_t i = 1; i <= 3; ++i) {
        auto& p = pieces[i];
        BOOST_REQUIRE(p.stamp_at.has_value());
        const auto idx = std::to_string(i - 1);
        BOOST_TEST(content_of(p) == "w" + idx + "@0000000000000000 ");
        mock::fill_stamp(p, 1712345678123456 + static_cast<std::int64_t>(i));
        BOOST_TEST(content_of(p) == "w" + idx + "@171234567812345" + std::to_string(6 + i) + " ");
        BOOST_TEST(p.bytes.ends_with("\"},\"finish_reason\":null}]}\n\n"));
    }
}

BOOST_AUTO_TEST_CASE(small_values_are_zero_padded)
{
    auto pieces = run("mock:tokens=1 mock:stamp");
    mock::fill_stamp(pieces[1], 42);
    BOOST_TEST(content_of(pieces[1]) == "w0@0000000000000042 ");
}

BOOST_AUTO_TEST_CASE(stamped_events_keep_comments_and_line_ends)
{
    auto pieces = run("mock:tokens=1 mock:stamp mock:comments mock:lineend=crlf");
    auto& p = pieces[1];
    mock::fill_stamp(p, 1700000000000000);
    BOOST_TEST(p.bytes.starts_with(": keep-alive\r\nevent: message\r\ndata: {"));
    BOOST_TEST(p.bytes.find(R"({"content":"w0@1700000000000000 "})") != std::string::npos);
    BOOST_TEST(p.bytes.ends_with("}\r\n\r\n"));
}

BOOST_AUTO_TEST_CASE(without_stamp_nothing_changes)
{
    auto pieces = run("mock:tokens=2");
    for (auto& p : pieces) {
        BOOST_TEST(!p.stamp_at);
        const auto before = p.bytes;
        mock::fill_stamp(p, 1700000000000000);
        BOOST_TEST(p.bytes == before);
    }
    BOOST_TEST(content_of(pieces[1]) == "w0 ");
}

BOOST_AUTO_TEST_SUITE_END()
