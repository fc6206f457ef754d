#pragma once
// Keeps a secret (the upstream key) out of text that arrives in pieces, as a reply's
// tokens do. Any run of the text that matches the secret's start for at least
// `min_run` characters is replaced by "[redacted]": the whole secret, a cut-off part of
// it, or one split across pieces. Shorter runs go out as they are: a key's first
// characters ("sk-proj-", "sk-ant-api03-") are public, and a reply may well name them.
// A piece that ends inside a long enough run is held back until a later piece (or the
// end) shows where the run ends; one that ends inside a shorter run goes out, and if the
// next piece carries the run on past `min_run`, the rest of the run is what is replaced.
// Sans-I/O; a piece with none of the secret's first character is passed through uncopied.

#include <cstddef>
#include <string>
#include <string_view>

namespace tokenrelay {

class stream_redactor
{
public:
    static constexpr std::string_view replacement = "[redacted]";
    /// Runs this long are replaced (half a shorter secret's length, at least one).
    static constexpr std::size_t usual_min_run = 16;

    /// An empty secret lets everything through unchanged.
    explicit stream_redactor(std::string_view secret);

    /// What to send for `piece`. The view is valid until the next call; it may be empty
    /// (all of the piece held back).
    std::string_view push(std::string_view piece);
    /// What is still held back, at the end of the text.
    std::string_view flush();

private:
    /// Ends the open run at `length` characters: its held part, or the replacement.
    void close_run(std::size_t length);

    std::string secret_;
    std::size_t min_run_;
    std::size_t run_ = 0;     // characters of the secret's start that the text ends with
    bool run_hidden_ = false; // part of the open run is held back (it reached min_run_)
    std::string out_;
};

} // namespace tokenrelay
