#pragma once
// The streaming reader of openai_decoder (openai_decoder.cpp): a boost::json::basic_parser
// handler that reads the members of a chat.completion.chunk the relay needs without
// building a value tree. Included by openai_decoder.cpp only, which instantiates the
// parser once. Sans-I/O.

#include <tokenrelay/core/chat.hpp>
#include <tokenrelay/sse/json_fields.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

namespace tokenrelay::sse::detail {

namespace json = boost::json;
using error_code = boost::system::error_code;

// Failure texts, shared by both readers so that they cannot drift apart.
namespace reason {
constexpr std::string_view malformed = "malformed JSON in stream event: ";
constexpr std::string_view not_an_object = "stream event is not a JSON object";
constexpr std::string_view choices = "choices is not an array";
constexpr std::string_view choice = "choices[0] is not an object";
constexpr std::string_view delta = "choices[0].delta is not an object";
constexpr std::string_view content = "choices[0].delta.content is not a string or a list of parts";
constexpr std::string_view content_part =
    "choices[0].delta.content holds a part that is not an object with a string text or thinking";
constexpr std::string_view reasoning_content = "choices[0].delta.reasoning_content is not a string";
constexpr std::string_view reasoning = "choices[0].delta.reasoning is not a string";
constexpr std::string_view refusal = "choices[0].delta.refusal is not a string";
constexpr std::string_view finish_reason = "choices[0].finish_reason is not a string";
constexpr std::string_view usage = "usage is not an object";
constexpr std::string_view prompt_tokens = "usage.prompt_tokens is not a non-negative integer";
constexpr std::string_view completion_tokens =
    "usage.completion_tokens is not a non-negative integer";
} // namespace reason

// A place in the payload that the decoder reads. The containers among them (root,
// choices, choice, delta, usage) are also where the values read next belong while they
// are open.
enum class slot : std::uint8_t {
    skip, // a value nobody reads, with everything inside it
    top,  // outside the root value
    root,
    choices,
    choice, // choices[0]
    delta,
    content,
    reasoning_content,
    reasoning,
    refusal,
    finish_reason,
    usage,
    prompt_tokens,
    completion_tokens,
    error,
    x_groq, // Groq's extras: its usage when the standard place has none
};
constexpr std::size_t slot_count = static_cast<std::size_t>(slot::x_groq) + 1;

// What the value in a slot was; `count` is an integer that read_count accepts.
enum class kind : std::uint8_t { absent, null, string, count, object, array, other };

// Absent and null read as "" (detail::read_string).
constexpr bool text_or_nothing(kind k) noexcept
{
    return k == kind::absent || k == kind::null || k == kind::string;
}

constexpr bool count_or_nothing(kind k) noexcept
{
    return k == kind::absent || k == kind::null || k == kind::count;
}

// The basic_parser handler of the streaming reader.
class chunk_reader
{
public:
    // The tree reader's handler limits (boost/json/detail/handler.hpp), so that both
    // readers reject the same texts.
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    void start(openai_chunk& out) noexcept
    {
        out_ = &out;
        kinds_.fill(kind::absent);
        container_ = slot::top;
        member_ = slot::skip;
        skip_depth_ = 0;
        elements_ = 0;
        sink_ = nullptr;
        in_string_ = false;
        handed_over_ = false;
        counts_ = {};
    }

    /// The parse stopped because the payload needs the tree reader.
    bool handed_over() const noexcept { return handed_over_; }

    /// After a complete parse: why the chunk is invalid, or "" when `out` is filled. The
    /// checks and their order are decode_json's.
    std::string_view verdict(openai_chunk& out) const noexcept
    {
        if (at(slot::root) != kind::object)
            return reason::not_an_object;

        switch (at(slot::choices)) {
        case kind::absent:
        case kind::null:
            break;
        case kind::array:
            if (at(slot::choice) == kind::absent) // choices: []
                break;
            if (at(slot::choice) != kind::object)
                return reason::choice;
            out.has_choice = true;
            if (at(slot::delta) == kind::object) {
                if (!text_or_nothing(at(slot::content)))
                    return reason::content;
                if (!text_or_nothing(at(slot::reasoning_content)))
                    return reason::reasoning_content;
                if (at(slot::reasoning_content) != kind::string &&
                    !text_or_nothing(at(slot::reasoning)))
                    return reason::reasoning;
                if (!text_or_nothing(at(slot::refusal)))
                    return reason::refusal;
            } else if (at(slot::delta) != kind::absent && at(slot::delta) != kind::null) {
                return reason::delta;
            }
            if (!text_or_nothing(at(slot::finish_reason)))
                return reason::finish_reason;
            break;
        default:
            return reason::choices;
        }

        switch (at(slot::usage)) {
        case kind::absent:
        case kind::null:
            break;
        case kind::object:
            if (!count_or_nothing(at(slot::prompt_tokens)))
                return reason::prompt_tokens;
            if (!count_or_nothing(at(slot::completion_tokens)))
                return reason::completion_tokens;
            out.usage = counts_;
            break;
        default:
            return reason::usage;
        }
        return {};
    }

    bool on_document_begin(error_code&) noexcept { return true; }
    bool on_document_end(error_code&) noexcept { return true; }

    bool on_object_begin(error_code& ec) noexcept { return open(kind::object, ec); }
    bool on_object_end(std::size_t, error_code&) noexcept { return close(); }
    bool on_array_begin(error_code& ec) noexcept { return open(kind::array, ec); }
    bool on_array_end(std::size_t, error_code&) noexcept { return close(); }

    // Keys arrive in parts when they hold escapes; `n` is the length so far. Only keys
    // up to the longest one that matters are kept.
    bool on_key_part(json::string_view s, std::size_t n, error_code&) noexcept
    {
        if (skip_depth_ == 0 && n <= sizeof key_)
            std::memcpy(key_ + (n - s.size()), s.data(), s.size());
        return true;
    }

    bool on_key(json::string_view s, std::size_t n, error_code&) noexcept
    {
        if (skip_depth_ != 0)
            return true;
        std::string_view key(s.data(), s.size());
        if (n != s.size()) {
            if (n > sizeof key_) {
                member_ = slot::skip;
                return true;
            }
            std::memcpy(key_ + (n - s.size()), s.data(), s.size());
            key = std::string_view(key_, n);
        }
        member_ = member_of(container_, key);
        return true;
    }

    // Not noexcept: appending may throw std::bad_alloc, which basic_parser lets through
    // as json::parser does.
    bool on_string_part(json::string_view s, std::size_t, error_code& ec)
    {
        if (!in_string_) {
            if (!begin_string(ec))
                return false;
            in_string_ = true;
        }
        if (sink_ != nullptr)
            sink_->append(s.data(), s.size());
        return true;
    }

    bool on_string(json::string_view s, std::size_t, error_code& ec)
    {
        if (!in_string_ && !begin_string(ec))
            return false;
        in_string_ = false;
        if (sink_ != nullptr)
            sink_->append(s.data(), s.size());
        return true;
    }

    bool on_number_part(json::string_view, error_code&) noexcept { return true; }

    // basic_parser reports an integer as uint64 only past int64's range, but the test
    // is read_count's either way.
    bool on_int64(std::int64_t i, json::string_view, error_code& ec) noexcept
    {
        return number(i >= 0, i, ec);
    }

    bool on_uint64(std::uint64_t u, json::string_view, error_code& ec) noexcept
    {
        constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        return number(u <= max, static_cast<std::int64_t>(u), ec);
    }

    bool on_double(double, json::string_view, error_code& ec) noexcept
    {
        return number(false, 0, ec);
    }

    bool on_bool(bool, error_code& ec) noexcept { return note(next_slot(), kind::other, ec); }
    bool on_null(error_code& ec) noexcept { return note(next_slot(), kind::null, ec); }

    // Comments are off (default parse_options, as for the tree reader).
    bool on_comment_part(json::string_view, error_code&) noexcept { return true; }
    bool on_comment(json::string_view, error_code&) noexcept { return true; }

private:
    kind at(slot s) const noexcept { return kinds_[static_cast<std::size_t>(s)]; }

    static slot member_of(slot container, std::string_view key) noexcept
    {
        switch (container) {
        case slot::root:
            if (key == "choices")
                return slot::choices;
            if (key == "usage")
                return slot::usage;
            if (key == "error")
                return slot::error;
            if (key == "x_groq")
                return slot::x_groq;
            break;
        case slot::choice:
            if (key == "delta")
                return slot::delta;
            if (key == "finish_reason")
                return slot::finish_reason;
            break;
        case slot::delta:
            if (key == "content")
                return slot::content;
            if (key == "reasoning_content")
                return slot::reasoning_content;
            if (key == "reasoning")
                return slot::reasoning;
            if (key == "refusal")
                return slot::refusal;
            break;
        case slot::usage:
            if (key == "prompt_tokens")
                return slot::prompt_tokens;
            if (key == "completion_tokens")
                return slot::completion_tokens;
            break;
        default:
            break;
        }
        return slot::skip;
    }

    static slot parent_of(slot container) noexcept
    {
        switch (container) {
        case slot::choices:
        case slot::usage:
            return slot::root;
        case slot::choice:
            return slot::choices;
        case slot::delta:
            return slot::choice;
        default:
            return slot::top;
        }
    }

    // The slot of the value that starts now.
    slot next_slot() noexcept
    {
        if (skip_depth_ != 0)
            return slot::skip;
        switch (container_) {
        case slot::top:
            return slot::root;
        case slot::choices:
            return elements_++ == 0 ? slot::choice : slot::skip;
        default:
            return member_;
        }
    }

    bool note(slot s, kind k, error_code& ec) noexcept
    {
        if (s == slot::skip)
            return true;
        auto& seen = kinds_[static_cast<std::size_t>(s)];
        // The tree reader answers what this one does not keep: a member given twice, an
        // error's message, content as a list of parts (Mistral), Groq's usage.
        if (seen != kind::absent || (s == slot::error && k != kind::null) ||
            (s == slot::content && k == kind::array) || (s == slot::x_groq && k == kind::object))
            return hand_over(ec);
        seen = k;
        return true;
    }

    bool open(kind k, error_code& ec) noexcept
    {
        slot const s = next_slot();
        if (!note(s, k, ec))
            return false;
        bool const read_inside = k == kind::object ? s == slot::root || s == slot::choice ||
                                                         s == slot::delta || s == slot::usage
                                                   : s == slot::choices;
        if (read_inside) {
            container_ = s;
            member_ = slot::skip;
        } else {
            ++skip_depth_;
        }
        return true;
    }

    bool close() noexcept
    {
        if (skip_depth_ != 0)
            --skip_depth_;
        else
            container_ = parent_of(container_);
        return true;
    }

    bool begin_string(error_code& ec) noexcept
    {
        slot const s = next_slot();
        if (!note(s, kind::string, ec))
            return false;
        switch (s) {
        case slot::content:
            sink_ = &out_->content;
            break;
        case slot::reasoning_content:
            // Wins over a `reasoning` read before it.
            sink_ = &out_->reasoning;
            sink_->clear();
            break;
        case slot::reasoning:
            sink_ = at(slot::reasoning_content) == kind::string ? nullptr : &out_->reasoning;
            break;
        case slot::refusal:
            sink_ = &out_->refusal;
            break;
        case slot::finish_reason:
            sink_ = &out_->finish_reason;
            break;
        default:
            sink_ = nullptr;
            break;
        }
        return true;
    }

    bool number(bool is_count, std::int64_t value, error_code& ec) noexcept
    {
        slot const s = next_slot();
        bool const counted = is_count && (s == slot::prompt_tokens || s == slot::completion_tokens);
        if (!note(s, counted ? kind::count : kind::other, ec))
            return false;
        if (counted)
            (s == slot::prompt_tokens ? counts_.prompt_tokens : counts_.completion_tokens) = value;
        return true;
    }

    bool hand_over(error_code& ec) noexcept
    {
        handed_over_ = true;
        ec = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
        return false;
    }

    openai_chunk* out_ = nullptr;
    std::array<kind, slot_count> kinds_{};
    slot container_ = slot::top;  // the innermost open container that is read
    slot member_ = slot::skip;    // the slot of the member whose key came last
    std::size_t skip_depth_ = 0;  // containers open inside a skipped value
    std::size_t elements_ = 0;    // elements of choices started so far
    std::string* sink_ = nullptr; // where the parts of the current string go
    bool in_string_ = false;
    bool handed_over_ = false;
    token_usage counts_;
    char key_[17]; // "reasoning_content" and "completion_tokens" are the longest keys read
};

} // namespace tokenrelay::sse::detail
