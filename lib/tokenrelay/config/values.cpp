// The number, text and file kinds of PROTOCOL.md section 7 (addresses.cpp has the
// address kinds).

#include <tokenrelay/config/values.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

namespace tokenrelay::config::detail {

namespace {

// Long enough to recognise a mistyped value, short enough to keep the error one screen line.
constexpr std::size_t max_echo = 80;

char lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool all_digits(std::string_view text) noexcept
{
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

std::string lowercase(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return lower(x) == lower(y);
           });
}

std::string seconds_text(milliseconds ms)
{
    const auto count = static_cast<std::uint64_t>(ms.count());
    std::string out = std::to_string(count / 1000);
    if (const auto frac = count % 1000; frac != 0) {
        std::string digits = std::to_string(frac);
        digits.insert(0, 3 - digits.size(), '0');
        while (digits.back() == '0')
            digits.pop_back();
        out += '.' + digits;
    }
    return out;
}

std::string decimal_text(double value)
{
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, ec == std::errc{} ? end : buf);
}

std::string quote(std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text.substr(0, max_echo)) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    if (text.size() > max_echo)
        out += "...";
    return out;
}

std::string_view trim(std::string_view text)
{
    constexpr std::string_view space = " \t\r\n";
    const auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos)
        return {};
    return text.substr(first, text.find_last_not_of(space) - first + 1);
}

parsed<std::uint64_t> parse_integer(std::string_view text, std::uint64_t min, std::uint64_t max)
{
    parsed<std::uint64_t> out;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!all_digits(text) || ec != std::errc{} || end != text.data() + text.size() || value < min ||
        value > max) {
        out.problem = "expected an integer from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", got " + quote(text);
        return out;
    }
    out.value = value;
    return out;
}

parsed<milliseconds> parse_seconds(std::string_view text, milliseconds min, milliseconds max)
{
    parsed<milliseconds> out;
    const auto fail = [&] {
        out.problem = "expected seconds from " + seconds_text(min) + " to " + seconds_text(max) +
                      " (decimals allowed, e.g. 0.5), got " + quote(text);
        return out;
    };
    const auto dot = text.find('.');
    const auto whole = text.substr(0, dot);
    const auto frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    // Twelve digits of whole seconds is far past any sane bound yet cannot overflow below.
    if (!all_digits(whole) || whole.size() > 12 ||
        (dot != std::string_view::npos && !all_digits(frac)))
        return fail();
    std::uint64_t ms = 0;
    std::from_chars(whole.data(), whole.data() + whole.size(), ms);
    ms *= 1000;
    // Round half up at the fourth decimal: the flags are seconds, the fields milliseconds.
    std::uint64_t scale = 100;
    for (std::size_t i = 0; i < frac.size() && i < 4; ++i) {
        const auto digit = static_cast<std::uint64_t>(frac[i] - '0');
        if (i < 3) {
            ms += digit * scale;
            scale /= 10;
        } else if (digit >= 5) {
            ms += 1;
        }
    }
    if (ms < static_cast<std::uint64_t>(min.count()) ||
        ms > static_cast<std::uint64_t>(max.count()))
        return fail();
    out.value = milliseconds{static_cast<milliseconds::rep>(ms)};
    return out;
}

parsed<double> parse_decimal(std::string_view text, double max)
{
    parsed<double> out;
    const auto dot = text.find('.');
    const auto whole = text.substr(0, dot);
    const auto frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    // all_digits("") is false, so "." and ".5" are refused; "5." is accepted like seconds.
    const bool shape_ok = all_digits(whole) && whole.size() <= 12 && frac.size() <= 12 &&
                          (frac.empty() || all_digits(frac));
    double value = 0;
    if (shape_ok) {
        const std::string digits(text.substr(0, frac.empty() ? whole.size() : text.size()));
        std::from_chars(digits.data(), digits.data() + digits.size(), value);
    }
    if (!shape_ok || value > max) {
        char max_text[32];
        std::snprintf(max_text, sizeof max_text, "%g", max);
        out.problem = std::string("expected a decimal number from 0 to ") + max_text +
                      " (e.g. 0.27), got " + quote(text);
        return out;
    }
    out.value = value;
    return out;
}

parsed<bool> parse_bool(std::string_view text)
{
    parsed<bool> out;
    if (iequals(text, "true") || iequals(text, "yes") || text == "1") {
        out.value = true;
    } else if (iequals(text, "false") || iequals(text, "no") || text == "0") {
        out.value = false;
    } else {
        out.problem = "expected true, false, 1, 0, yes or no, got " + quote(text);
    }
    return out;
}

parsed<std::vector<std::string>> parse_list(std::string_view text, std::string_view what)
{
    parsed<std::vector<std::string>> out;
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        const auto item = trim(text.substr(start, comma - start));
        if (item.empty()) {
            out.problem = "expected a comma-separated list of non-empty " + std::string(what) +
                          ", got " + quote(text);
            out.value.clear();
            return out;
        }
        if (std::find(out.value.begin(), out.value.end(), item) == out.value.end())
            out.value.emplace_back(item);
        if (comma == std::string_view::npos)
            return out;
        start = comma + 1;
    }
}

std::string check_readable_file(const std::string& path)
{
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec)
        return "cannot read " + quote(path) + ": " + ec.message();
    if (!std::filesystem::is_regular_file(status))
        return "cannot read " + quote(path) + ": not a regular file";
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{
        std::fopen(path.c_str(), "rb"), &std::fclose};
    if (!file)
        return "cannot read " + quote(path) + ": " + std::generic_category().message(errno);
    return {};
}

parsed<std::string> read_file(const std::string& path, std::size_t max_bytes)
{
    parsed<std::string> out;
    out.problem = check_readable_file(path);
    if (!out)
        return out;
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{
        std::fopen(path.c_str(), "rb"), &std::fclose};
    if (!file) {
        out.problem = "cannot read " + quote(path) + ": " + std::generic_category().message(errno);
        return out;
    }
    out.value.resize(max_bytes + 1);
    const auto got = std::fread(out.value.data(), 1, out.value.size(), file.get());
    if (std::ferror(file.get())) {
        out.problem = "cannot read " + quote(path);
        out.value.clear();
        return out;
    }
    if (got > max_bytes) {
        out.problem = quote(path) + " is larger than " + std::to_string(max_bytes) + " bytes";
        out.value.clear();
        return out;
    }
    out.value.resize(got);
    return out;
}

std::string check_directory(const std::string& path)
{
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec))
        return "expected an existing directory, got " + quote(path);
    return {};
}

bool is_b64token(std::string_view text)
{
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    const auto body_end = text.find_last_not_of('=');
    if (body_end == std::string_view::npos)
        return false;
    return std::all_of(text.begin(), text.begin() + body_end + 1, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    });
}

bool is_visible_ascii(std::string_view text)
{
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

} // namespace tokenrelay::config::detail
