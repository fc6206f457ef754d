// Every way an attempt fails, as the failed event the caller gets (PROTOCOL.md section 6):
// its error code, a message that continues "upstream ...", the upstream's status, and the
// key redacted from all of it (section 1).

#include <tokenrelay/core/redact.hpp>
#include <tokenrelay/upstream/attempt.hpp>
#include <tokenrelay/upstream/retry_policy.hpp>

#include <boost/json/parse.hpp>

#include <array>
#include <charconv>

namespace tokenrelay::upstream::detail {

namespace {

constexpr std::size_t max_error_body = 64 * 1024;

std::string seconds_text(milliseconds d)
{
    if (d.count() % 1000 == 0)
        return std::to_string(d.count() / 1000) + "s";
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d.count() / 1000.0);
    return std::string(buf, ec == std::errc{} ? end : buf) + "s";
}

// OpenAI and most compatible servers say {"error":{"message":…}}; some put a string in
// `error`, or use `message` or `detail` at the top level.
std::string error_text(std::string_view body, std::string_view reason, int status)
{
    error_code ec;
    const auto jv = boost::json::parse(body, ec);
    if (!ec)
        if (const auto* o = jv.if_object()) {
            if (const auto* e = o->if_contains("error")) {
                if (const auto* s = e->if_string())
                    return cut(*s, max_error_text);
                if (const auto* eo = e->if_object())
                    if (const auto* m = eo->if_contains("message"))
                        if (const auto* s = m->if_string())
                            return cut(*s, max_error_text);
            }
            for (const char* key : {"message", "detail"})
                if (const auto* m = o->if_contains(key))
                    if (const auto* s = m->if_string())
                        return cut(*s, max_error_text);
        }
    if (auto text = cut(body, max_error_text); !text.empty())
        return text;
    if (!reason.empty())
        return std::string(reason);
    return std::string(http::obsolete_reason(static_cast<http::status>(status)));
}

} // namespace

// Asio's messages start with a capital ("Connection refused"); ours continue a sentence.
std::string describe(const error_code& ec)
{
    if (ec == beast::error::timeout)
        return "timed out";
    std::string m = ec.message();
    if (!m.empty() && m[0] >= 'A' && m[0] <= 'Z' && !(m.size() > 1 && m[1] >= 'A' && m[1] <= 'Z'))
        m[0] = static_cast<char>(m[0] - 'A' + 'a');
    return m;
}

attempt_result
failure(verdict kind, errc code, std::string message, int status, const call_state& c)
{
    attempt_result r;
    r.kind = kind;
    r.failure = stream_event::failed(code, redact(message, c.options.api_key), status);
    return r;
}

attempt_result timeout_failure(const call_state& c, int status)
{
    return failure(
        verdict::fail,
        errc::timeout,
        c.token_sent ? "no token within " + seconds_text(c.options.token_timeout)
                     : "no first token within " + seconds_text(c.options.first_token_timeout),
        status,
        c
    );
}

bool timed_out(const error_code& ec, const call_state& c)
{
    return ec == beast::error::timeout || (ec && clock::now() >= c.read_deadline);
}

std::string cut(std::string_view s, std::size_t limit)
{
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
        s.remove_suffix(1);
    if (s.size() <= limit)
        return std::string(s);
    // Back off to a UTF-8 sequence boundary.
    while (limit > 0 && (static_cast<unsigned char>(s[limit]) & 0xC0) == 0x80)
        --limit;
    return std::string(s.substr(0, limit)) + "…";
}

template <class Stream>
awaitable<attempt_result>
read_error_reply(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    const int status = parser.get().result_int();
    std::string body;
    std::array<char, 4096> buf;
    while (!parser.is_done() && body.size() < max_error_body) {
        const auto room = std::min(buf.size(), max_error_body - body.size());
        parser.get().body().data = buf.data();
        parser.get().body().size = room;
        auto [ec, n] = co_await http::async_read_some(stream, conn.buffer(), parser, use_tuple);
        body.append(buf.data(), room - parser.get().body().size);
        if (ec && ec != http::error::need_buffer)
            break;
    }
    const bool retryable = retry_policy::retryable_status(status);
    auto r = failure(
        retryable ? verdict::retry : verdict::fail,
        errc::upstream_error,
        "upstream answered " + std::to_string(status) + ": " +
            error_text(body, parser.get().reason(), status),
        status,
        c
    );
    // A forwarded request's client gets the upstream's error body as it came (section 9);
    // an Anthropic one is not in OpenAI's shape, so its message goes in the relay's.
    if (c.forward && c.options.format == api_format::openai) {
        error_code ec;
        if (boost::json::parse(body, ec); !ec)
            r.failure.end->body = redact(body, c.options.api_key);
    }
    if (retryable)
        if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end())
            r.retry_after =
                retry_policy::parse_retry_after(it->value(), std::chrono::system_clock::now());
    r.reusable = parser.is_done() && parser.get().keep_alive();
    co_return r;
}

template awaitable<attempt_result>
read_error_reply(beast::tcp_stream&, connection&, response_parser&, call_state&);
template awaitable<attempt_result>
read_error_reply(tls_stream&, connection&, response_parser&, call_state&);

attempt_result
early_failure(const call_state& c, connection& conn, const error_code& ec, bool nothing_received)
{
    if (timed_out(ec, c))
        return timeout_failure(c, 0);
    if (conn.reused() && nothing_received) {
        attempt_result r;
        r.kind = verdict::stale;
        return r;
    }
    return failure(
        verdict::retry, errc::upstream_error, "upstream connection lost: " + describe(ec), 0, c
    );
}

attempt_result connect_failure(const call_state& c, const connect_result& cr)
{
    if (cr.ec == beast::error::timeout && clock::now() >= c.first_token_deadline)
        return timeout_failure(c, 0);
    std::string message;
    switch (cr.stage) {
    case connect_stage::resolve:
        message = "upstream unreachable: cannot resolve " + c.options.endpoint.host + ": " +
                  describe(cr.ec);
        break;
    case connect_stage::connect:
        message = "upstream unreachable: " + describe(cr.ec);
        break;
    case connect_stage::tls_handshake:
        message = "upstream TLS handshake failed: " + describe(cr.ec);
        break;
    }
    return failure(verdict::retry, errc::upstream_error, message, 0, c);
}

} // namespace tokenrelay::upstream::detail
