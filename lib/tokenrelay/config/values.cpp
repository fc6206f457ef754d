#include <tokenrelay/config/values.hpp>

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

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

bool all_digits(std::string_view text) noexcept
{
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Milliseconds written as seconds, the unit the flags use: 1500 -> "1.5".
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

std::string bad_origin(std::string_view text)
{
    return "expected an origin such as https://chat.example.com (scheme, host and optional "
           "port, no path), got " +
           quote(text);
}

} // namespace

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

parsed<listen_address> parse_listen(std::string_view text)
{
    parsed<listen_address> out;
    const auto bad_host = [&] {
        out.problem = "expected HOST:PORT with an IPv4 address, a [bracketed] IPv6 address or "
                      "localhost, got " +
                      quote(text);
        return out;
    };
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
            return bad_host();
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (!boost::urls::parse_ipv6_address(host))
            return bad_host();
        out.value.host = std::string(host);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return bad_host();
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (iequals(host, "localhost")) {
            out.value.host = "127.0.0.1";
        } else if (boost::urls::parse_ipv4_address(host)) {
            out.value.host = std::string(host);
        } else {
            return bad_host();
        }
    }
    const auto number = parse_integer(port, 0, 65535);
    if (!number) {
        out.problem = "expected a port from 0 to 65535 after the host, got " + quote(text);
        return out;
    }
    out.value.port = static_cast<std::uint16_t>(number.value);
    return out;
}

parsed<std::string> parse_base_url(std::string_view text)
{
    parsed<std::string> out;
    const auto parsed_url = boost::urls::parse_absolute_uri(text);
    if (!parsed_url || (parsed_url->scheme_id() != boost::urls::scheme::http &&
                        parsed_url->scheme_id() != boost::urls::scheme::https)) {
        out.problem = "expected an http:// or https:// base URL, got " + quote(text);
        return out;
    }
    const auto& url = *parsed_url;
    // User info would carry a credential in a value that gets logged; the key has its own
    // channels (PROTOCOL.md section 7), so the URL is not echoed here.
    if (url.has_userinfo()) {
        out.problem = "user info in the URL is not allowed (the key comes from "
                      "TOKENRELAY_API_KEY or --api-key-file)";
        return out;
    }
    if (!url.has_authority() || url.encoded_host().empty()) {
        out.problem = "expected a URL with a host, got " + quote(text);
        return out;
    }
    if (url.has_port() && !parse_integer(url.port(), 1, 65535)) {
        out.problem = "expected a port from 1 to 65535 in the URL, got " + quote(text);
        return out;
    }
    if (url.has_query()) {
        out.problem = "expected a base URL without a query, got " + quote(text);
        return out;
    }
    out.value = lowercase(url.scheme());
    out.value.append(text.substr(url.scheme().size()));
    while (out.value.ends_with('/'))
        out.value.pop_back();
    return out;
}

parsed<std::string> parse_origin(std::string_view text)
{
    parsed<std::string> out;
    const auto parsed_url = boost::urls::parse_absolute_uri(text);
    if (!parsed_url) {
        out.problem = bad_origin(text);
        return out;
    }
    const auto& url = *parsed_url;
    const auto id = url.scheme_id();
    const bool http = id == boost::urls::scheme::http;
    if ((!http && id != boost::urls::scheme::https) || !url.has_authority() ||
        url.encoded_host().empty() || url.has_userinfo() || url.has_query() ||
        (url.encoded_path() != "" && url.encoded_path() != "/")) {
        out.problem = bad_origin(text);
        return out;
    }
    std::string port;
    if (url.has_port()) {
        const auto number = parse_integer(url.port(), 1, 65535);
        if (!number) {
            out.problem = bad_origin(text);
            return out;
        }
        // Browsers leave the scheme's default port out of the Origin header (RFC 6454 6.1).
        if (number.value != (http ? 80u : 443u))
            port = ":" + std::to_string(number.value);
    }
    out.value = lowercase(url.scheme()) + "://" + lowercase(url.encoded_host()) + port;
    return out;
}

parsed<std::string> parse_host_name(std::string_view text)
{
    parsed<std::string> out;
    auto host = lowercase(text);
    const bool bracketed = host.starts_with('[') && host.ends_with(']');
    if ((bracketed && boost::urls::parse_ipv6_address(host.substr(1, host.size() - 2))) ||
        boost::urls::parse_ipv4_address(host)) {
        out.value = std::move(host);
        return out;
    }
    if (host.ends_with('.'))
        host.pop_back();
    // DNS names (RFC 1123 section 2.1): labels of letters, digits and hyphens, here also
    // underscores, which some internal names carry.
    constexpr std::size_t max_name = 253;
    constexpr std::size_t max_label = 63;
    std::size_t label = 0;
    bool valid = !host.empty() && host.size() <= max_name;
    for (const char c : host) {
        const bool name_char =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (c == '.' && label != 0)
            label = 0;
        else if (!name_char || ++label > max_label)
            valid = false;
    }
    if (!valid || label == 0) {
        out.problem = "expected a host name such as chat.example.com (no scheme, port or "
                      "path), got " +
                      quote(text);
        return out;
    }
    out.value = std::move(host);
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
