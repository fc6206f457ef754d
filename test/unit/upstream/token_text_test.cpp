#include <tokenrelay/upstream/token_text.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>

using tokenrelay::upstream::token_text;

BOOST_AUTO_TEST_SUITE(token_text_suite)

// Every length around the inline capacity, where the storage changes.
BOOST_AUTO_TEST_CASE(holds_any_length_and_survives_moves)
{
    for (std::size_t n = 0; n <= token_text::inline_capacity + 3; ++n) {
        BOOST_TEST_CONTEXT("length " << n)
        {
            std::string text;
            for (std::size_t i = 0; i < n; ++i)
                text += static_cast<char>('a' + i % 26);
            token_text t(text);
            BOOST_TEST(t.size() == n);
            BOOST_TEST(t == text);
            token_text moved(std::move(t));
            BOOST_TEST(moved == text);
            BOOST_TEST(t.empty());
            token_text assigned;
            assigned = "old text that is longer than the inline capacity of a token text";
            assigned = std::move(moved);
            BOOST_TEST(assigned == text);
            BOOST_TEST(moved.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(can_be_assigned_a_view_of_itself)
{
    const std::string long_text(token_text::inline_capacity + 10, 'x');
    token_text t(long_text);
    t = t.view().substr(0, 5); // heap to inline, from its own heap bytes
    BOOST_TEST(t == "xxxxx");
    t = t.view().substr(1); // inline to inline, overlapping
    BOOST_TEST(t == "xxxx");
}

BOOST_AUTO_TEST_SUITE_END()
