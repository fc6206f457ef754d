#include "support/ws_client.hpp"

#include "support/test_key.hpp"
#include "support/time_scale.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>

namespace tokenrelay::test {

namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds remaining(clock::time_point deadline)
{
    return std::max(
        std::chrono::milliseconds(0),
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now())
    );
}

} // namespace

ws_client::ws_client(std::chrono::milliseconds timeout) : timeout_(scaled(timeout))
{}

// Pending handlers are destroyed with the io_context, never run: after a failed
// assertion they may refer to a caller's stack that is gone.
ws_client::~ws_client() = default;

bool ws_client::run_until(const bool& done, std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    while (!done) {
        if (ioc_.stopped())
            ioc_.restart();
        if (ioc_.run_one_until(deadline) == 0)
            break;
    }
    return done;
}

ws_client::handshake_result
ws_client::handshake(std::uint16_t port, std::string target, header_list headers)
{
    ws_.emplace(ioc_);
    buffer_.clear();
    read_pending_ = false;
    ws_->read_message_max(64 * 1024 * 1024);
    ws_->set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        req.set(http::field::user_agent, "tokenrelay-test");
        for (const auto& [k, v] : headers)
            req.set(k, v);
    }));

    handshake_result result;
    bool done = false;
    beast::get_lowest_layer(*ws_).async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
        [&](error_code ec) {
            result.ec = ec;
            done = true;
        }
    );
    if (!run_until(done, timeout_))
        BOOST_FAIL("TCP connect to port " << port << " timed out");
    if (result.ec)
        return result;

    websocket::response_type res;
    done = false;
    ws_->async_handshake(res, "127.0.0.1:" + std::to_string(port), target, [&](error_code ec) {
        result.ec = ec;
        done = true;
    });
    if (!run_until(done, timeout_))
        BOOST_FAIL("WebSocket handshake on " << target << " timed out");
    result.status = res.result_int();
    return result;
}

json::object ws_client::connect(std::uint16_t port, std::string target, header_list headers)
{
    const auto r = handshake(port, target, std::move(headers));
    if (r.ec)
        BOOST_FAIL(
            "WebSocket upgrade on " << target << " failed: " << r.ec.message() << " (HTTP "
                                    << r.status << ")"
        );
    auto first = read();
    BOOST_TEST_REQUIRE(string_of(first, "type") == "session", "first frame: " << first);
    return first;
}

websocket::stream<beast::tcp_stream>& ws_client::stream()
{
    if (!ws_)
        BOOST_FAIL("ws_client: not connected");
    return *ws_;
}

void ws_client::write(std::string_view data, bool text)
{
    auto& ws = stream();
    ws.text(text);
    bool done = false;
    error_code ec;
    ws.async_write(net::buffer(data), [&](error_code e, std::size_t) {
        ec = e;
        done = true;
    });
    if (!run_until(done, timeout_))
        BOOST_FAIL("WebSocket write of " << data.size() << " bytes timed out");
    if (ec)
        BOOST_FAIL("WebSocket write failed: " << ec.message());
}

void ws_client::send(const json::object& frame)
{
    write(json::serialize(frame), true);
}

void ws_client::send_text(std::string_view text)
{
    write(text, true);
}

void ws_client::send_binary(std::string_view bytes)
{
    write(bytes, false);
}

void ws_client::send_fragments(const std::vector<std::string>& parts)
{
    auto& ws = stream();
    ws.text(true);
    ws.auto_fragment(false);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        bool done = false;
        error_code ec;
        ws.async_write_some(
            i + 1 == parts.size(),
            net::buffer(parts[i]),
            [&](error_code e, std::size_t) {
                ec = e;
                done = true;
            }
        );
        if (!run_until(done, timeout_))
            BOOST_FAIL("WebSocket write_some timed out");
        if (ec)
            BOOST_FAIL("WebSocket write_some failed: " << ec.message());
    }
    ws.auto_fragment(true);
}

ws_client::outcome
ws_client::next_frame(std::chrono::milliseconds timeout, std::string& text, error_code& ec)
{
    auto& ws = stream();
    if (!read_pending_) {
        buffer_.clear();
        read_pending_ = true;
        read_done_ = false;
        ws.async_read(buffer_, [this](error_code e, std::size_t) {
            read_ec_ = e;
            read_done_ = true;
        });
    }
    if (!run_until(read_done_, timeout))
        return outcome::timeout;
    read_pending_ = false;
    ec = read_ec_;
    if (ec)
        return outcome::failed;
    text = beast::buffers_to_string(buffer_.data());
    if (!ws.got_text())
        BOOST_FAIL("the relay sent a binary frame (" << text.size() << " bytes)");
    // PROTOCOL.md section 1: the upstream key never reaches a client.
    BOOST_TEST_REQUIRE(text.find(test_api_key) == std::string::npos, "key in frame: " << text);
    BOOST_TEST_REQUIRE(text.find("SECRET-key") == std::string::npos, "key part in frame: " << text);
    return outcome::frame;
}

json::object ws_client::parse_frame(const std::string& text)
{
    error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object())
        BOOST_FAIL("the relay sent a frame that is not a JSON object: " << text);
    auto o = std::move(v.as_object());
    BOOST_TEST_REQUIRE(o.contains("type"), "frame without type: " << text);
    return o;
}

std::optional<json::object> ws_client::try_read(std::chrono::milliseconds timeout)
{
    std::string text;
    error_code ec;
    switch (next_frame(timeout, text, ec)) {
    case outcome::frame:
        return parse_frame(text);
    case outcome::timeout:
        return std::nullopt;
    case outcome::failed:
        break;
    }
    if (ec == websocket::error::closed)
        BOOST_FAIL("the relay closed the WebSocket (code " << ws_->reason().code << ")");
    BOOST_FAIL("WebSocket read failed: " << ec.message());
    return std::nullopt;
}

json::object ws_client::read()
{
    return read_within(timeout_);
}

json::object ws_client::read(std::chrono::milliseconds timeout)
{
    return read_within(scaled(timeout));
}

json::object ws_client::read_within(std::chrono::milliseconds timeout)
{
    auto f = try_read(timeout);
    if (!f)
        BOOST_FAIL("no frame from the relay within " << timeout.count() << " ms");
    return std::move(*f);
}

json::object ws_client::read_until(std::string_view type, std::vector<json::object>* skipped)
{
    for (;;) {
        auto f = read();
        if (string_of(f, "type") == type)
            return f;
        if (skipped)
            skipped->push_back(std::move(f));
    }
}

namespace {

/// Adds one frame to a reply; true when it was the stream_end.
bool add_frame(reply& r, json::object f)
{
    const auto type = string_of(f, "type");
    r.frames.push_back(f);
    if (type == "token" || type == "reasoning" || type == "refusal") {
        (type == "token"       ? r.text
         : type == "reasoning" ? r.reasoning
                               : r.refusal) += string_of(f, "content");
        r.seqs.push_back(integer(f, "seq"));
        r.tokens.push_back(std::move(f));
    } else if (type == "user") {
        r.user = std::move(f);
    } else if (type == "error") {
        r.errors.push_back(std::move(f));
    } else if (type == "stream_end") {
        r.end = std::move(f);
        return true;
    }
    return false;
}

} // namespace

reply ws_client::collect_reply(
    std::chrono::milliseconds timeout, const std::vector<json::object>& so_far
)
{
    timeout = scaled(timeout);
    const auto deadline = clock::now() + timeout;
    reply r;
    for (const auto& f : so_far) {
        if (add_frame(r, f))
            return r;
    }
    for (;;) {
        auto f = try_read(remaining(deadline));
        if (!f)
            BOOST_FAIL(
                "no stream_end within " << timeout.count() << " ms; text so far (" << r.text.size()
                                        << " bytes): \"" << r.text.substr(0, 200)
                                        << (r.text.size() > 200 ? "…" : "") << "\", "
                                        << r.frames.size() << " frames"
            );
        if (add_frame(r, std::move(*f)))
            return r;
    }
}

std::vector<json::object>
ws_client::expect_close(std::uint16_t code, std::chrono::milliseconds timeout)
{
    timeout = scaled(timeout);
    const auto deadline = clock::now() + timeout;
    std::vector<json::object> before;
    for (;;) {
        std::string text;
        error_code ec;
        switch (next_frame(remaining(deadline), text, ec)) {
        case outcome::frame:
            before.push_back(parse_frame(text));
            continue;
        case outcome::timeout:
            BOOST_FAIL("the relay did not close the WebSocket within " << timeout.count() << " ms");
            break;
        case outcome::failed: {
            // Beast records the close frame's code, answers it, then tears TCP down; when
            // the relay has already shut its socket (RST for bytes it did not read), that
            // answer fails with a transport error although the close frame did arrive.
            const bool got_close_frame = ws_->reason().code != websocket::close_code::none;
            BOOST_TEST_REQUIRE(
                (ec == websocket::error::closed || got_close_frame),
                "expected a close frame, got: " << ec.message()
            );
            BOOST_TEST(ws_->reason().code == code);
            return before;
        }
        }
    }
}

void ws_client::close()
{
    auto& ws = stream();
    bool done = false;
    ws.async_close(websocket::close_code::normal, [&](error_code) { done = true; });
    if (!run_until(done, timeout_))
        BOOST_FAIL("WebSocket close timed out");
    // A read that was left pending ends with the close.
    if (read_pending_)
        run_until(read_done_, timeout_);
    read_pending_ = false;
}

void ws_client::drop()
{
    auto& ws = stream();
    error_code ignored;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws).socket().close(ignored);
    if (read_pending_)
        run_until(read_done_, timeout_);
    read_pending_ = false;
}

std::int64_t check_seqs(const reply& r, std::int64_t seq_before, bool count_words)
{
    std::int64_t prev = seq_before;
    if (r.user) {
        const auto seq = integer(*r.user, "seq");
        BOOST_TEST(seq == prev + 1, "user " << *r.user << " after seq " << prev);
        prev = seq;
    }
    for (const auto& f : r.tokens) {
        const auto seq = integer(f, "seq");
        BOOST_TEST(seq > prev, "seq " << seq << " after " << prev << " in " << f);
        if (count_words) {
            const auto content = string_of(f, "content");
            const auto words = std::count(content.begin(), content.end(), ' ');
            BOOST_TEST(seq - prev == words, "frame " << f << " after seq " << prev);
        }
        prev = seq;
    }
    const auto end_seq = integer(r.end, "seq");
    BOOST_TEST(end_seq == prev + 1, "stream_end " << r.end << " after seq " << prev);
    return end_seq;
}

double number(const json::value& v)
{
    if (v.is_int64())
        return static_cast<double>(v.as_int64());
    if (v.is_uint64())
        return static_cast<double>(v.as_uint64());
    if (v.is_double())
        return v.as_double();
    BOOST_FAIL("not a number: " << v);
    return 0;
}

std::int64_t integer(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    BOOST_TEST_REQUIRE(v, "no \"" << key << "\" in " << o);
    if (v->is_int64())
        return v->as_int64();
    if (v->is_uint64())
        return static_cast<std::int64_t>(v->as_uint64());
    BOOST_FAIL("\"" << key << "\" is not an integer in " << o);
    return 0;
}

std::string string_of(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    BOOST_TEST_REQUIRE(v, "no \"" << key << "\" in " << o);
    BOOST_TEST_REQUIRE(v->is_string(), "\"" << key << "\" is not a string in " << o);
    return std::string(v->as_string());
}

} // namespace tokenrelay::test
