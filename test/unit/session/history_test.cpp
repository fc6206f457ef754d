// history: a running reply is kept within the history's byte bound, cut whole characters.
#include <tokenrelay/session/history.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::session {
namespace {

BOOST_AUTO_TEST_SUITE(history_suite)

BOOST_AUTO_TEST_CASE(a_reply_is_kept_up_to_the_bound)
{
    std::string text;
    for (int i = 0; i < 100; ++i)
        append_within(text, "abcdefg ", 20);
    BOOST_TEST(text == "abcdefg abcdefg abcd");
    append_within(text, "more", 20);
    BOOST_TEST(text.size() == 20u);
}

BOOST_AUTO_TEST_CASE(the_cut_never_splits_a_character)
{
    // "é" is two bytes and "€" three: every bound in between keeps whole characters.
    const std::string piece = "aé€";
    for (std::size_t limit = 0; limit <= piece.size(); ++limit) {
        std::string text;
        append_within(text, piece, limit);
        BOOST_TEST(piece.starts_with(text));
        BOOST_TEST(text.size() <= limit);
        const bool whole =
            text.size() == 0 || text.size() == 1 || text.size() == 3 || text.size() == 6;
        BOOST_TEST(whole, "limit " << limit << " kept " << text.size() << " bytes");
    }
}

BOOST_AUTO_TEST_CASE(a_reply_as_long_as_the_bound_stays_in_the_history)
{
    history h(10, 100);
    h.add({"user", "hi"});
    std::string reply;
    append_within(reply, std::string(1000, 'x'), 100);
    h.add({"assistant", reply});
    BOOST_TEST_REQUIRE(h.size() >= 1u);
    BOOST_TEST(h.turns().back().content == std::string(100, 'x'));
}

BOOST_AUTO_TEST_CASE(images_have_their_own_bound_and_the_oldest_go_first)
{
    // Images count apart from the text: a turn with a large image stays.
    history h(10, 100, 50);
    h.add({"user", "first", std::string(30, 'a')});
    h.add({"assistant", "ok"});
    BOOST_TEST(h.bytes() == 7u);
    BOOST_TEST(h.image_bytes() == 30u);
    // Past the image bound the oldest images go; their text stays.
    h.add({"user", "second", std::string(30, 'b')});
    BOOST_TEST_REQUIRE(h.size() == 3u);
    BOOST_TEST(h.turns()[0].content == "first");
    BOOST_TEST(h.turns()[0].parts.empty());
    BOOST_TEST(h.turns()[2].parts == std::string(30, 'b'));
    BOOST_TEST(h.image_bytes() == 30u);
    // A turn dropped by the text bound takes its image bytes with it.
    h.add({"assistant", std::string(95, 'x')});
    BOOST_TEST(h.image_bytes() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::session
