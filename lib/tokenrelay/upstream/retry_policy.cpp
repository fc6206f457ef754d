// Backoff for upstream attempts before the first token (PROTOCOL.md section 6): full
// jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015), Retry-After
// honoured per RFC 9110 section 10.2.3, all waits within one budget.
#include <tokenrelay/upstream/retry_policy.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace tokenrelay::upstream {

namespace {

using std::chrono::milliseconds;

// A Retry-After this far out is as good as "never" for a 15 s budget; saturating keeps
// absurd values from overflowing the arithmetic.
constexpr std::chrono::seconds retry_after_ceiling{std::chrono::hours{24 * 365}};

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

std::string_view trim_ows(std::string_view s) noexcept
{
    // RFC 9110 section 5.6.3: optional whitespace is SP and HTAB.
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<int> read_digits(std::string_view s, std::size_t at, std::size_t count)
{
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
        if (!is_digit(s[i])) {
            return std::nullopt;
        }
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

constexpr std::array<std::string_view, 7> day_names{
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_day_names{
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> month_names{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

template <std::size_t N>
bool is_one_of(std::array<std::string_view, N> const& names, std::string_view s)
{
    return std::find(names.begin(), names.end(), s) != names.end();
}

std::optional<unsigned> month_number(std::string_view s)
{
    auto const it = std::find(month_names.begin(), month_names.end(), s);
    if (it == month_names.end()) {
        return std::nullopt;
    }
    return static_cast<unsigned>(it - month_names.begin() + 1);
}

// day, month, year and an "HH:MM:SS" starting at `time_at`, validated as a calendar date.
std::optional<std::chrono::sys_seconds> make_time(
    std::optional<int> day,
    std::optional<unsigned> month,
    std::optional<int> year,
    std::string_view s,
    std::size_t time_at
)
{
    if (s[time_at + 2] != ':' || s[time_at + 5] != ':') {
        return std::nullopt;
    }
    auto const hour = read_digits(s, time_at, 2);
    auto const minute = read_digits(s, time_at + 3, 2);
    auto const second = read_digits(s, time_at + 6, 2);
    // The grammar allows a leap second (60).
    if (!day || !month || !year || !hour || !minute || !second || *hour > 23 || *minute > 59 ||
        *second > 60) {
        return std::nullopt;
    }
    std::chrono::year_month_day const date{
        std::chrono::year{*year},
        std::chrono::month{*month},
        std::chrono::day{static_cast<unsigned>(*day)}};
    if (!date.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days{date} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
           std::chrono::seconds{*second};
}

// HTTP-date (RFC 9110 section 5.6.7): recipients must accept all three forms.
std::optional<std::chrono::sys_seconds>
parse_http_date(std::string_view s, std::chrono::system_clock::time_point now)
{
    // IMF-fixdate, the one senders use: "Sun, 06 Nov 1994 08:49:37 GMT".
    if (s.size() == 29 && s.substr(3, 2) == ", " && s[7] == ' ' && s[11] == ' ' && s[16] == ' ' &&
        s.substr(25) == " GMT" && is_one_of(day_names, s.substr(0, 3))) {
        return make_time(
            read_digits(s, 5, 2), month_number(s.substr(8, 3)), read_digits(s, 12, 4), s, 17
        );
    }
    // asctime: "Sun Nov  6 08:49:37 1994" (single-digit days padded with a space).
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ' &&
        is_one_of(day_names, s.substr(0, 3))) {
        auto day = s[8] == ' ' ? read_digits(s, 9, 1) : read_digits(s, 8, 2);
        return make_time(day, month_number(s.substr(4, 3)), read_digits(s, 20, 4), s, 11);
    }
    // rfc850: "Sunday, 06-Nov-94 08:49:37 GMT".
    auto const comma = s.find(',');
    if (comma != std::string_view::npos && s.size() == comma + 24 &&
        is_one_of(long_day_names, s.substr(0, comma))) {
        auto const d = s.substr(comma + 1);
        if (d[0] != ' ' || d[3] != '-' || d[7] != '-' || d[10] != ' ' || d.substr(19) != " GMT") {
            return std::nullopt;
        }
        auto const yy = read_digits(d, 8, 2);
        if (!yy) {
            return std::nullopt;
        }
        // The year with those last two digits that is at most 50 years ahead: one more
        // than 50 years ahead means the most recent past one (RFC 9110 section 5.6.7).
        int const this_year = static_cast<int>(
            std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}.year()
        );
        int year = this_year / 100 * 100 + *yy;
        if (year > this_year + 50) {
            year -= 100;
        } else if (year <= this_year - 50) {
            year += 100;
        }
        return make_time(read_digits(d, 1, 2), month_number(d.substr(4, 3)), year, d, 11);
    }
    return std::nullopt;
}

} // namespace

bool retry_policy::retryable_status(int status) noexcept
{
    return status == 429 || (status >= 500 && status <= 599);
}

std::optional<milliseconds>
retry_policy::parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now)
{
    value = trim_ows(value);
    if (value.empty()) {
        return std::nullopt;
    }
    if (std::all_of(value.begin(), value.end(), is_digit)) {
        // delay-seconds = 1*DIGIT
        std::int64_t seconds = 0;
        for (char c : value) {
            seconds = seconds * 10 + (c - '0');
            if (seconds >= retry_after_ceiling.count()) {
                return retry_after_ceiling;
            }
        }
        return std::chrono::seconds{seconds};
    }
    auto const date = parse_http_date(value, now);
    if (!date) {
        return std::nullopt;
    }
    if (*date <= now) {
        return milliseconds{0};
    }
    // Round up: waking early would only earn another 429.
    return std::min<milliseconds>(
        std::chrono::ceil<milliseconds>(*date - now), retry_after_ceiling
    );
}

std::optional<milliseconds>
retry_policy::next_delay(double unit_random, std::optional<milliseconds> retry_after)
{
    if (retries_ >= limits_.max_retries || waited_ >= limits_.budget) {
        return std::nullopt;
    }
    milliseconds const remaining = limits_.budget - waited_;

    // ceiling = min(cap, base * 2^retries), doubled step by step so it cannot overflow.
    milliseconds ceiling = std::min(limits_.base, limits_.cap);
    for (std::size_t i = 0; i < retries_ && ceiling < limits_.cap; ++i) {
        ceiling = ceiling.count() > limits_.cap.count() / 2 ? limits_.cap : ceiling * 2;
    }
    if (!(unit_random >= 0.0)) { // also catches NaN
        unit_random = 0.0;
    }
    unit_random = std::min(unit_random, 1.0);
    milliseconds delay{static_cast<milliseconds::rep>(
        std::floor(unit_random * static_cast<double>(ceiling.count()))
    )};

    if (retry_after) {
        delay = std::max(delay, std::max(*retry_after, milliseconds{0}));
        // The server said when to come back; coming back earlier to stay within the
        // budget would be ignoring it, so give up instead.
        if (delay > remaining) {
            return std::nullopt;
        }
    } else {
        delay = std::min(delay, remaining);
    }
    ++retries_;
    waited_ += delay;
    return delay;
}

} // namespace tokenrelay::upstream
