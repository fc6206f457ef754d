// docs/PROTOCOL.md is the contract users and client authors read; these tests keep the
// parts of it that name things in the code (error codes, flags, close codes) true to the
// code, both ways: nothing in the doc that the code lacks, nothing in the code the doc
// leaves out.

#include <tokenrelay/config/flags.hpp>
#include <tokenrelay/core/error.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace tc = tokenrelay::config;

namespace {

std::string read_doc()
{
    std::ifstream in(TOKENRELAY_PROTOCOL_DOC);
    BOOST_TEST_REQUIRE(in.good(), "cannot read " << TOKENRELAY_PROTOCOL_DOC);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> doc_lines()
{
    std::vector<std::string> lines;
    std::istringstream in(read_doc());
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::string_view trim(std::string_view s)
{
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos)
        return {};
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// Cell `column` of every body row of the table that follows `heading` (a whole line,
/// e.g. "### Error codes"). The heading names the table, so a table moved or renamed fails
/// here instead of being silently skipped.
std::vector<std::string> cells_under(const std::string& heading, std::size_t column)
{
    const auto lines = doc_lines();
    auto it = std::find(lines.begin(), lines.end(), heading);
    BOOST_TEST_REQUIRE(
        (it != lines.end()), "docs/PROTOCOL.md has no heading line \"" << heading << "\""
    );
    ++it;
    // Up to the table: prose may come first, another heading may not.
    while (it != lines.end() && !it->starts_with("|")) {
        BOOST_TEST_REQUIRE(!it->starts_with("#"), "no table under \"" << heading << "\"");
        ++it;
    }
    std::vector<std::string> cells;
    int row = 0;
    for (; it != lines.end() && it->starts_with("|"); ++it, ++row) {
        if (row < 2)
            continue; // the header row and the |---| separator
        const std::string_view line = *it;
        std::size_t begin = 1;
        for (std::size_t i = 0; i < column && begin != std::string_view::npos; ++i)
            begin = line.find('|', begin);
        BOOST_TEST_REQUIRE(begin != std::string_view::npos, "no column " << column << ": " << line);
        begin += column == 0 ? 0 : 1;
        const auto end = line.find('|', begin);
        cells.emplace_back(
            trim(line.substr(begin, end == std::string_view::npos ? end : end - begin))
        );
    }
    BOOST_TEST_REQUIRE(!cells.empty(), "the table under \"" << heading << "\" is empty");
    return cells;
}

std::vector<std::string> first_cells_under(const std::string& heading)
{
    return cells_under(heading, 0);
}

std::string without_backticks(std::string s)
{
    std::erase(s, '`');
    return s;
}

/// Every error code of the code. The enum starts at 1 and has no gaps, and code_name()
/// answers "unknown" past its end, so a code added to errc shows up here without a list
/// to update.
std::set<std::string> code_error_codes()
{
    std::set<std::string> codes;
    for (int i = 1;; ++i) {
        const auto name = tokenrelay::code_name(static_cast<tokenrelay::errc>(i));
        if (name == "unknown")
            break;
        codes.emplace(name);
    }
    return codes;
}

/// The names of the flags in a table's first cells: "`--price-input USD` / `--price-output
/// USD`" names two.
std::set<std::string> flags_in(const std::vector<std::string>& cells)
{
    static const std::regex flag(R"(--([a-z0-9][a-z0-9-]*))");
    std::set<std::string> names;
    for (const auto& cell : cells) {
        const auto before = names.size();
        for (std::sregex_iterator m(cell.begin(), cell.end(), flag), end; m != end; ++m)
            names.insert((*m)[1].str());
        BOOST_TEST(names.size() > before, "a flags row names no new flag: " << cell);
    }
    return names;
}

std::set<std::string> code_flags(bool hidden)
{
    std::set<std::string> names;
    for (const auto& spec : tc::detail::flags())
        if (spec.hidden == hidden)
            names.emplace(spec.name);
    return names;
}

/// Both ways, naming what is missing where: a size mismatch alone would not say which.
template <class T>
void check_same(const std::set<T>& in_doc, const std::set<T>& in_code, std::string_view what)
{
    for (const auto& x : in_code)
        BOOST_TEST(in_doc.contains(x), what << " " << x << " is in the code but not in the doc");
    for (const auto& x : in_doc)
        BOOST_TEST(in_code.contains(x), what << " " << x << " is in the doc but not in the code");
}

// The close codes the relay sends. They are not reachable from this test's libraries
// (tokenrelay_config, tokenrelay_core): lib/tokenrelay/ws/frame_reader.hpp names the
// RFC 6455 ones for tokenrelay_ws, and 4001 and 4002 are literals where they are sent. Where each
// is sent, in lib/tokenrelay/ws/:
// - 1000: connection.cpp, on_read_event(): the answer to a client's close frame that had
//   no code (a client's own code is echoed, and is not one the relay chooses).
// - 1001: connection.cpp, close_for_shutdown(): the drain.
// - 1002: frame_reader.cpp, protocol_error(): RFC 6455 framing violations (with
//   --compression, Beast's stream sends it for the same).
// - 1003: connection.cpp, on_message(): a binary message.
// - 1007: frame_reader.cpp: invalid UTF-8 in a text message or a close reason.
// - 1009: frame_reader.cpp: a message over --max-message-bytes.
// - 1013: frame_reader.cpp: a message past it while the large-message budget is spent.
// - 4001: connection.cpp, evicted(): a newer connection joined the session past
//   --max-connections-per-session.
// - 4002: connection.cpp, evicted(): the session's log dropped frames this connection had
//   not sent.
const std::set<int> relay_close_codes{1000, 1001, 1002, 1003, 1007, 1009, 1013, 4001, 4002};

} // namespace

BOOST_AUTO_TEST_SUITE(protocol_doc)

BOOST_AUTO_TEST_CASE(error_codes_match_the_code_both_ways)
{
    std::set<std::string> documented;
    for (const auto& cell : first_cells_under("### Error codes"))
        documented.insert(without_backticks(cell));
    check_same(documented, code_error_codes(), "error code");
}

BOOST_AUTO_TEST_CASE(public_flags_match_the_code_both_ways)
{
    const auto documented = flags_in(first_cells_under("### Flags"));
    check_same(documented, code_flags(false), "flag");
}

BOOST_AUTO_TEST_CASE(test_only_flags_match_the_code_both_ways)
{
    const auto documented = flags_in(first_cells_under("### Test-only flags"));
    check_same(documented, code_flags(true), "test-only flag");
}

// A flags table's default is the one --help shows, which is relay_config's own
// (flags.hpp, default_text()). A cell may add a note in parentheses ("0 (none)"); a row
// of two flags gives both defaults ("`info` / `text`") or one they share.
BOOST_AUTO_TEST_CASE(flag_defaults_match_the_code)
{
    static const std::regex flag(R"(--([a-z0-9][a-z0-9-]*))");
    int checked = 0;
    for (const std::string heading : {"### Flags", "### Test-only flags"}) {
        const auto flag_cells = cells_under(heading, 0);
        const auto default_cells = cells_under(heading, 1);
        for (std::size_t row = 0; row < flag_cells.size(); ++row) {
            const auto& cell = flag_cells[row];
            std::vector<std::string> defaults;
            std::string rest = without_backticks(default_cells[row]);
            for (std::size_t slash; (slash = rest.find(" / ")) != std::string::npos;) {
                defaults.push_back(rest.substr(0, slash));
                rest.erase(0, slash + 3);
            }
            defaults.push_back(rest);
            std::size_t i = 0;
            for (std::sregex_iterator m(cell.begin(), cell.end(), flag), end; m != end; ++m, ++i) {
                const auto* spec = tc::detail::find_flag((*m)[1].str());
                BOOST_TEST_REQUIRE(spec != nullptr);
                auto documented = defaults[std::min(i, defaults.size() - 1)];
                if (const auto note = documented.find(" ("); note != std::string::npos)
                    documented.erase(note);
                BOOST_TEST(
                    documented == tc::detail::default_text(*spec),
                    "--" << spec->name << " in " << heading
                );
                ++checked;
            }
        }
    }
    BOOST_TEST(checked > 40);
}

BOOST_AUTO_TEST_CASE(close_code_table_matches_what_the_relay_sends)
{
    std::set<int> documented;
    for (const auto& cell : first_cells_under("### Close codes"))
        documented.insert(std::stoi(cell));
    check_same(documented, relay_close_codes, "close code");
}

// Prose names close codes too ("closed with code 4001", "closed with 1001"): every number
// written after "code" or "with" that lies where close codes live (1000-1015, the ones
// registered for the protocol; 4000-4999, private use: RFC 6455 section 7.4.2) must be one
// the relay sends. Other numbers there ("max_tokens 4096") are not preceded by those words.
BOOST_AUTO_TEST_CASE(close_codes_in_prose_are_ones_the_relay_sends)
{
    static const std::regex mention(R"(\b(?:code|codes|with)\s+(\d{4})\b)");
    const auto text = read_doc();
    int seen = 0;
    for (std::sregex_iterator m(text.begin(), text.end(), mention), end; m != end; ++m) {
        const int code = std::stoi((*m)[1].str());
        const bool close_range = (code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4999);
        if (!close_range)
            continue;
        ++seen;
        BOOST_TEST_CONTEXT((*m)[0].str())
        {
            BOOST_TEST(relay_close_codes.contains(code));
        }
    }
    // The doc says how a connection ends on a drain and on a takeover: if the pattern no
    // longer finds those, it has stopped checking anything.
    BOOST_TEST(seen >= 2);
}

BOOST_AUTO_TEST_SUITE_END()
