// stream_redactor: the key never leaves in a reply's text, whole or split at any point
// across tokens; text without it leaves unchanged.
#include <tokenrelay/core/stream_redactor.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace tokenrelay {
namespace {

const std::string key = "sk-test-SECRET-key-1234567890abcdef";

/// Feeds `pieces` through a redactor and returns everything that went out.
std::string run(const std::vector<std::string>& pieces, std::string_view secret = key)
{
    stream_redactor r(secret);
    std::string out;
    for (const auto& p : pieces)
        out.append(r.push(p));
    out.append(r.flush());
    return out;
}

/// Whether `text` holds a run of at least `n` characters of the key's start.
bool holds_key_run(const std::string& text, std::size_t n)
{
    return text.find(key.substr(0, n)) != std::string::npos;
}

BOOST_AUTO_TEST_SUITE(stream_redactor_suite)

BOOST_AUTO_TEST_CASE(text_without_the_key_is_unchanged_at_every_split)
{
    const std::string text = "ask me: sk-proj- keys start so; skills, sks and sk-tes remain";
    for (std::size_t a = 0; a <= text.size(); ++a)
        for (std::size_t b = a; b <= text.size(); b += 7)
            BOOST_TEST(run({text.substr(0, a), text.substr(a, b - a), text.substr(b)}) == text);
}

BOOST_AUTO_TEST_CASE(the_key_is_replaced_whatever_the_pieces)
{
    const std::string text = "before " + key + " between " + key + " after";
    const std::string expected = "before [redacted] between [redacted] after";
    BOOST_TEST(run({text}) == expected);
    // Every split into two and three pieces, and one character a piece. A piece may end
    // in fewer than 16 of the key's first characters, which go out; no more of it does.
    const auto check = [&](const std::string& out, const std::string& how) {
        BOOST_TEST(!holds_key_run(out, 16), how << ": " << out);
        BOOST_TEST(out.starts_with("before "), how << ": " << out);
        BOOST_TEST(out.ends_with("[redacted] after"), how << ": " << out);
    };
    for (std::size_t a = 0; a <= text.size(); ++a) {
        check(run({text.substr(0, a), text.substr(a)}), "split at " + std::to_string(a));
        for (std::size_t b = a; b <= text.size(); b += 5)
            check(
                run({text.substr(0, a), text.substr(a, b - a), text.substr(b)}),
                "split at " + std::to_string(a) + " and " + std::to_string(b)
            );
    }
    std::vector<std::string> chars;
    for (char ch : text)
        chars.emplace_back(1, ch);
    check(run(chars), "one character a piece");
}

BOOST_AUTO_TEST_CASE(a_cut_off_key_is_replaced_and_short_starts_pass)
{
    // The stream ends inside the key, or the key is cut and something else follows.
    BOOST_TEST(run({"x " + key.substr(0, 20)}) == "x [redacted]");
    BOOST_TEST(run({"x " + key.substr(0, 20), "!"}) == "x [redacted]!");
    BOOST_TEST(run({"x " + key.substr(0, 10), "y"}) == "x " + key.substr(0, 10) + "y");
    // A short start sent, then the rest of the key: the rest never leaves.
    const auto out = run({"x " + key.substr(0, 10), key.substr(10), " y"});
    BOOST_TEST(out == "x " + key.substr(0, 10) + "[redacted] y");
}

BOOST_AUTO_TEST_CASE(the_usual_piece_passes_through_without_a_copy)
{
    stream_redactor r(key);
    const std::string piece = "hello world ";
    BOOST_TEST(r.push(piece).data() == piece.data());
    stream_redactor none("");
    BOOST_TEST(none.push(key).data() == key.data());
}

BOOST_AUTO_TEST_CASE(a_short_secret_is_held_from_half_its_length)
{
    BOOST_TEST(run({"a abcd", "efgh b"}, "abcdefgh") == "a [redacted] b");
    BOOST_TEST(run({"a ab", "x"}, "abcdefgh") == "a abx");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay
