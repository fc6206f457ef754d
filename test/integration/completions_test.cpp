// The OpenAI-compatible door, POST /v1/chat/completions (PROTOCOL.md section 1): streamed
// to curl, whole bodies, refusals, upstream failures and a client that goes away; the
// same usage accounting, upstream-request cap and drain as the WebSocket door; against
// the real relay and mock_upstream.

#include "support/metric_samples.hpp"
#include "support/relay_fixture.hpp"
#include "support/run_coro.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace tokenrelay::test {
namespace {

namespace ut = boost::unit_test;
using namespace std::chrono_literals;

const std::string default_text = "w0 w1 w2 w3 w4 w5 w6 w7 ";
const std::string path = "/v1/chat/completions";
const header_list json_type{{"Content-Type", "application/json"}};

std::string find_program(const std::string& name)
{
    const char* env = std::getenv("PATH");
    std::string dirs = env ? env : "/usr/bin:/bin";
    for (std::size_t pos = 0; pos <= dirs.size();) {
        const auto end = std::min(dirs.find(':', pos), dirs.size());
        const auto candidate = std::filesystem::path(dirs.substr(pos, end - pos)) / name;
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.string();
        pos = end + 1;
    }
    BOOST_FAIL(name << " is not on PATH");
    return {};
}

/// A request body with one user message.
std::string body_for(std::string content, std::string extra = {})
{
    json::object o{{"messages", json::array{json::object{{"role", "user"}, {"content", content}}}}};
    std::string s = json::serialize(o);
    if (!extra.empty())
        s.insert(1, extra + ",");
    return s;
}

http_result post(std::uint16_t port, std::string body, header_list headers = json_type)
{
    return http_request(port, http::verb::post, path, headers, std::move(body));
}

/// The `data:` payloads of an SSE body, in order; fails on any other line.
std::vector<std::string> sse_data(std::string_view body)
{
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        const auto end = body.find("\n\n", pos);
        BOOST_TEST_REQUIRE(
            end != std::string_view::npos, "unterminated event: " << body.substr(pos)
        );
        const auto event = body.substr(pos, end - pos);
        BOOST_TEST_REQUIRE(event.substr(0, 6) == "data: ", "not a data line: " << event);
        out.emplace_back(event.substr(6));
        pos = end + 2;
    }
    return out;
}

/// What the content (or reasoning) deltas of a chunk stream say, one entry per chunk.
std::vector<std::string> deltas(const std::vector<std::string>& data, std::string_view field)
{
    std::vector<std::string> out;
    for (const auto& d : data) {
        if (d == "[DONE]")
            continue;
        const auto o = json::parse(d).as_object();
        if (!o.contains("choices") || o.at("choices").as_array().empty())
            continue;
        const auto& delta = o.at("choices").as_array()[0].as_object().at("delta").as_object();
        if (const auto* v = delta.if_contains(field); v && !delta.contains("role"))
            out.emplace_back(v->as_string());
    }
    return out;
}

std::vector<std::string> words(std::string_view prefix, int n)
{
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
        out.push_back(std::string(prefix) + std::to_string(i) + " ");
    return out;
}

json::object error_of(const http_result& r)
{
    BOOST_TEST(r.header("Content-Type") == "application/json");
    const auto jv = json::parse(r.body);
    return jv.as_object().at("error").as_object();
}

/// A cost of `micro` micro-dollars as the double a JSON parser makes of its decimal text,
/// so the relay's number must be exactly that decimal, not merely close to it.
double micro_usd(std::int64_t micro)
{
    char text[32];
    std::snprintf(text, sizeof text, "0.%06lld", static_cast<long long>(micro));
    return json::parse(text).as_double();
}

/// The relay's generation_end log lines so far, in order.
std::vector<std::string> generation_end_lines(relay_fixture& f)
{
    std::vector<std::string> lines;
    std::istringstream in(f.relay().stderr_text());
    for (std::string line; std::getline(in, line);)
        if (line.find(" generation_end ") != std::string::npos)
            lines.push_back(line);
    return lines;
}

bool has(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

/// curl -N as a child process; its stdout (headers, then the decoded body) once it exits.
std::string run_curl(std::uint16_t port, std::string body, std::vector<std::string> extra = {})
{
    std::vector<std::string> args{
        "-sS",
        "-N",
        "-D",
        "-",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        std::move(body)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("http://127.0.0.1:" + std::to_string(port) + path);
    child_process curl(find_program("curl"), args);
    const auto status = curl.wait_exit(30s);
    BOOST_TEST_REQUIRE(status.has_value(), "curl did not finish");
    BOOST_TEST_REQUIRE(*status == (exit_status{.exited = true, .code = 0}), curl.stderr_text());
    return curl.stdout_text();
}

/// One client connection kept across requests, for keep-alive and going away mid-stream.
class api_connection
{
public:
    explicit api_connection(std::uint16_t port) { run_coro(ioc_, connect(port), 10s); }

    void send(std::string body)
    {
        http::request<http::string_body> req{http::verb::post, path, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::content_type, "application/json");
        req.body() = std::move(body);
        req.prepare_payload();
        run_coro(ioc_, write(std::move(req)), 10s);
    }

    /// GET `target` on this connection. The relay serves a connection's requests in
    /// order, so its answer shows that the previous request's work is done, logging
    /// included.
    http::response<http::string_body> get(std::string target)
    {
        http::request<http::string_body> req{http::verb::get, target, 11};
        req.set(http::field::host, "127.0.0.1");
        run_coro(ioc_, write(std::move(req)), 10s);
        return read_response();
    }

    /// The whole next response.
    http::response<http::string_body> read_response() { return run_coro(ioc_, read_all(), 30s); }

    /// Reads the next response's head, then its body until it contains `needle`.
    std::string read_until(std::string needle)
    {
        return run_coro(ioc_, read_part(std::move(needle)), 30s);
    }

    struct rest
    {
        error_code ec; // set when the body did not end properly
        std::string body;
    };
    /// After read_until(): the rest of that response, up to its end or the connection's.
    rest read_rest() { return run_coro(ioc_, read_to_end(), 30s); }

    void close()
    {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

private:
    awaitable<void> connect(std::uint16_t port)
    {
        co_await stream_.async_connect(
            tcp::endpoint(net::ip::address_v4::loopback(), port), net::use_awaitable
        );
    }
    awaitable<void> write(http::request<http::string_body> req)
    {
        co_await http::async_write(stream_, req, net::use_awaitable);
    }
    awaitable<http::response<http::string_body>> read_all()
    {
        http::response_parser<http::string_body> p;
        co_await http::async_read(stream_, buffer_, p, net::use_awaitable);
        co_return p.release();
    }
    awaitable<std::string> read_part(std::string needle)
    {
        parser_.emplace();
        co_await http::async_read_header(stream_, buffer_, *parser_, net::use_awaitable);
        while (parser_->get().body().find(needle) == std::string::npos)
            co_await http::async_read_some(stream_, buffer_, *parser_, net::use_awaitable);
        co_return parser_->get().body();
    }
    awaitable<rest> read_to_end()
    {
        auto [ec, n] = co_await http::async_read(stream_, buffer_, *parser_, use_tuple);
        co_return rest{ec, parser_->get().body()};
    }

    net::io_context ioc_;
    beast::tcp_stream stream_{ioc_};
    beast::flat_buffer buffer_;
    std::optional<http::response_parser<http::string_body>> parser_;
};

BOOST_AUTO_TEST_CASE(streams_exact_deltas_to_curl, *scaled_timeout(60))
{
    relay_fixture f;
    const auto out = run_curl(
        f.port(),
        body_for("hello mock:tokens=3", R"("stream":true,"stream_options":{"include_usage":true})")
    );
    const auto split = out.find("\r\n\r\n");
    BOOST_TEST_REQUIRE(split != std::string::npos, out);
    const auto head = out.substr(0, split + 2);
    BOOST_TEST(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u, head);
    BOOST_TEST(head.find("Content-Type: text/event-stream\r\n") != std::string::npos, head);
    BOOST_TEST(head.find("Cache-Control: no-cache\r\n") != std::string::npos, head);
    BOOST_TEST(head.find("X-Accel-Buffering: no\r\n") != std::string::npos, head);
    BOOST_TEST(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos, head);

    const auto data = sse_data(std::string_view(out).substr(split + 4));
    // role, 3 deltas, finish, usage, [DONE]
    BOOST_TEST_REQUIRE(data.size() == 7u, out);
    BOOST_TEST(deltas(data, "content") == words("w", 3), boost::test_tools::per_element());
    const auto role = json::parse(data[0]).as_object();
    BOOST_TEST(role.at("object").as_string() == "chat.completion.chunk");
    BOOST_TEST(role.at("model").as_string() == "deepseek-v3.2");
    // The upstream's own chunks, as it sent them.
    BOOST_TEST(std::string(role.at("id").as_string()).rfind("mock-", 0) == 0u);
    BOOST_TEST(
        json::serialize(role.at("choices")) ==
        R"([{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}])"
    );
    const auto finish = json::parse(data[4]).as_object();
    BOOST_TEST(finish.at("id") == role.at("id"));
    BOOST_TEST(
        json::serialize(finish.at("choices")) ==
        R"([{"index":0,"delta":{},"finish_reason":"stop"}])"
    );
    const auto stats = f.mock_stats();
    const auto prompt = mock_prompt_tokens(stats.at("last_body").as_object());
    const auto usage = json::parse(data[5]).as_object();
    BOOST_TEST(usage.at("choices").as_array().empty());
    BOOST_TEST(
        json::serialize(usage.at("usage")) == R"({"prompt_tokens":)" + std::to_string(prompt) +
                                                  R"(,"completion_tokens":3,"total_tokens":)" +
                                                  std::to_string(prompt + 3) + "}"
    );
    BOOST_TEST(data[6] == "[DONE]");
    // The relay added its upstream key; the client sent none.
    BOOST_TEST(string_of(stats, "last_authorization") == "Bearer " + std::string(test_api_key));
}

BOOST_AUTO_TEST_CASE(stream_without_include_usage_has_no_usage_chunk, *scaled_timeout(60))
{
    relay_fixture f;
    const auto out =
        run_curl(f.port(), body_for("mock:tokens=2 mock:reasoning=2", R"("stream":true)"));
    const auto data = sse_data(std::string_view(out).substr(out.find("\r\n\r\n") + 4));
    BOOST_TEST_REQUIRE(data.size() == 7u, out); // role, 2 reasoning, 2 content, finish, [DONE]
    BOOST_TEST(
        deltas(data, "reasoning_content") == words("r", 2), boost::test_tools::per_element()
    );
    BOOST_TEST(deltas(data, "content") == words("w", 2), boost::test_tools::per_element());
    BOOST_TEST(out.find("\"usage\"") == std::string::npos);
    BOOST_TEST(data.back() == "[DONE]");
}

BOOST_AUTO_TEST_CASE(whole_body_with_usage_and_keep_alive, *scaled_timeout(60))
{
    relay_fixture f;
    api_connection c(f.port());
    // Two answers, then a streamed one, on the same connection.
    for (int i = 0; i < 2; ++i) {
        c.send(body_for("whole " + std::to_string(i)));
        const auto r = c.read_response();
        BOOST_TEST_REQUIRE(r.result_int() == 200u, r.body());
        BOOST_TEST(r[http::field::content_type] == "application/json");
        BOOST_TEST(r.keep_alive());
        const auto o = json::parse(r.body()).as_object();
        BOOST_TEST(o.at("object").as_string() == "chat.completion");
        BOOST_TEST(o.at("model").as_string() == "deepseek-v3.2");
        BOOST_TEST(
            json::serialize(o.at("choices")) ==
            R"([{"index":0,"message":{"role":"assistant","content":")" + default_text +
                R"("},"logprobs":null,"finish_reason":"stop"}])"
        );
        const auto prompt = mock_prompt_tokens(f.mock_stats().at("last_body").as_object());
        BOOST_TEST(
            json::serialize(o.at("usage")) == R"({"prompt_tokens":)" + std::to_string(prompt) +
                                                  R"(,"completion_tokens":8,"total_tokens":)" +
                                                  std::to_string(prompt + 8) + "}"
        );
    }
    c.send(body_for("then streamed mock:tokens=2", R"("stream":true)"));
    const auto r = c.read_response();
    BOOST_TEST(r.result_int() == 200u);
    const auto data = sse_data(r.body());
    BOOST_TEST(deltas(data, "content") == words("w", 2), boost::test_tools::per_element());
    BOOST_TEST(data.back() == "[DONE]");
    BOOST_TEST(integer(f.mock_stats(), "requests") == 3);
}

BOOST_AUTO_TEST_CASE(reasoning_and_finish_reason_in_the_whole_body, *scaled_timeout(60))
{
    relay_fixture f;
    const auto r = post(f.port(), body_for("mock:tokens=1 mock:reasoning=2 mock:finish=length"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    const auto o = json::parse(r.body).as_object();
    BOOST_TEST(
        json::serialize(o.at("choices")) ==
        R"([{"index":0,"message":{"role":"assistant","content":"w0 ","reasoning_content":"r0 r1 "},)"
        R"("logprobs":null,"finish_reason":"length"}])"
    );
}

BOOST_AUTO_TEST_CASE(a_refusal_reaches_the_client_as_refusal, *scaled_timeout(60))
{
    relay_fixture f;
    const auto streamed =
        run_curl(f.port(), body_for("mock:refusal mock:tokens=2", R"("stream":true)"));
    const auto split = streamed.find("\r\n\r\n");
    BOOST_TEST_REQUIRE(split != std::string::npos, streamed);
    const auto data = sse_data(std::string_view(streamed).substr(split + 4));
    BOOST_TEST(deltas(data, "refusal") == words("w", 2), boost::test_tools::per_element());
    BOOST_TEST(deltas(data, "content").empty());

    const auto whole = post(f.port(), body_for("mock:refusal mock:tokens=2"));
    BOOST_TEST_REQUIRE(whole.status == 200u, whole.body);
    const auto message = json::parse(whole.body).at("choices").at(0).at("message").as_object();
    BOOST_TEST(message.at("content").is_null());
    BOOST_TEST(message.at("refusal").as_string() == "w0 w1 ");
}

BOOST_AUTO_TEST_CASE(invalid_requests_get_400_json, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--allowed-models", "deepseek-v3.2,other"}}};
    struct bad
    {
        std::string body;
        std::string code;
        std::string param;
    };
    const std::vector<bad> cases{
        {"{not json", "bad_json", ""},
        {R"({"messages":[]})", "bad_request", "messages"},
        {body_for("a", R"("model":"gpt-4")"), "bad_request", "model"},
        {body_for("a", R"("temperature":3)"), "bad_request", "temperature"},
        {body_for("a", R"("max_tokens":0)"), "bad_request", "max_tokens"},
        {R"({"messages":[{"content":"a"}]})", "bad_request", "messages[0].role"},
        {R"({"model":"other","model":"x","messages":[{"role":"user","content":"a"}]})",
         "bad_request",
         "model"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.body)
        {
            const auto r = post(f.port(), c.body);
            BOOST_TEST(r.status == 400u);
            const auto e = error_of(r);
            BOOST_TEST(string_of(e, "type") == "invalid_request_error");
            BOOST_TEST(string_of(e, "code") == c.code);
            BOOST_TEST(!string_of(e, "message").empty());
            if (c.param.empty())
                BOOST_TEST(e.at("param").is_null());
            else
                BOOST_TEST(string_of(e, "param") == c.param);
        }
    }
    // An allowed model other than the default is passed on.
    const auto ok = post(f.port(), body_for("a mock:tokens=1", R"("model":"other")"));
    BOOST_TEST(ok.status == 200u);
    BOOST_TEST(json::parse(ok.body).at("model").as_string() == "other");
    BOOST_TEST(f.mock_stats().at("last_body").at("model").as_string() == "other");

    const auto get = http_get(f.port(), path);
    BOOST_TEST(get.status == 405u);
    BOOST_TEST(get.header("Allow") == "POST");
    BOOST_TEST(string_of(error_of(get), "code") == "bad_request");
    // Only the valid request reached the upstream.
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);
}

BOOST_AUTO_TEST_CASE(client_token_is_required_when_configured, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--client-token", "client-secret-1"}}};
    const auto body = body_for("mock:tokens=1");
    for (const auto& auth :
         {std::string(), std::string("Bearer wrong"), std::string("client-secret-1")}) {
        BOOST_TEST_CONTEXT("Authorization: " << auth)
        {
            auto headers = json_type;
            if (!auth.empty())
                headers.emplace_back("Authorization", auth);
            const auto r = post(f.port(), body, headers);
            BOOST_TEST(r.status == 401u);
            const auto e = error_of(r);
            BOOST_TEST(string_of(e, "code") == "unauthorized");
            BOOST_TEST(string_of(e, "type") == "authentication_error");
            BOOST_TEST(r.body.find("client-secret-1") == std::string::npos);
        }
    }
    BOOST_TEST(integer(f.mock_stats(), "requests") == 0);
    auto headers = json_type;
    headers.emplace_back("Authorization", "Bearer client-secret-1");
    const auto r = post(f.port(), body, headers);
    BOOST_TEST(r.status == 200u, r.body);
    BOOST_TEST(
        json::parse(r.body).at("choices").at(0).at("message").at("content").as_string() == "w0 "
    );
}

BOOST_AUTO_TEST_CASE(models_lists_the_allowed_models, *scaled_timeout(60))
{
    relay_fixture f{
        {.flags = {"--allowed-models", "deepseek-v3.2,other-model", "--client-token", "tok-3"}}};
    // Behind the client token, as completions are.
    const auto refused = http_get(f.port(), "/v1/models");
    BOOST_TEST(refused.status == 401u);
    BOOST_TEST(string_of(error_of(refused), "code") == "unauthorized");

    const auto r = http_get(f.port(), "/v1/models", {{"Authorization", "Bearer tok-3"}});
    BOOST_TEST(r.status == 200u, r.body);
    const auto list = json::parse(r.body).as_object();
    BOOST_TEST(list.at("object").as_string() == "list");
    const auto& data = list.at("data").as_array();
    BOOST_REQUIRE_EQUAL(data.size(), 2u);
    BOOST_TEST(data[0].at("id").as_string() == "deepseek-v3.2");
    BOOST_TEST(data[1].at("id").as_string() == "other-model");
    for (const auto& m : data) {
        BOOST_TEST(m.at("object").as_string() == "model");
        BOOST_TEST(m.at("created").is_int64());
        BOOST_TEST(m.at("owned_by").is_string());
    }
    // Listed is exactly what a request may name.
    auto headers = json_type;
    headers.emplace_back("Authorization", "Bearer tok-3");
    const auto other =
        post(f.port(), body_for("mock:tokens=1", R"("model":"other-model")"), headers);
    BOOST_TEST(other.status == 200u, other.body);
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);

    const auto post_models = http_request(f.port(), http::verb::post, "/v1/models", headers, "{}");
    BOOST_TEST(post_models.status == 405u);
}

BOOST_AUTO_TEST_CASE(client_token_from_a_file, *scaled_timeout(60))
{
    temp_dir dir;
    const auto file = dir.write_file("client-token", "client-secret-2\n").string();
    relay_fixture f{{.flags = {"--client-token-file", file}}};
    const auto body = body_for("mock:tokens=1");
    BOOST_TEST(post(f.port(), body).status == 401u);
    auto headers = json_type;
    headers.emplace_back("Authorization", "Bearer client-secret-2");
    const auto r = post(f.port(), body, headers);
    BOOST_TEST(r.status == 200u, r.body);
    BOOST_TEST(f.relay().stderr_text().find("client-secret-2") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(upstream_500_is_an_error_status_before_streaming, *scaled_timeout(90))
{
    relay_fixture f;
    for (const bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream)
        {
            f.mock_reset();
            const auto r =
                post(f.port(), body_for("fail mock:status=500", stream ? R"("stream":true)" : ""));
            BOOST_TEST(r.status == 500u);
            // The upstream's own error body, as it came (PROTOCOL.md section 9).
            BOOST_TEST(r.body == R"({"error":{"message":"mock failure 500","type":"mock_error"}})");
            BOOST_TEST(r.body.find(test_api_key) == std::string::npos);
            // Section 6: retried before the first token.
            BOOST_TEST(integer(f.mock_stats(), "requests") >= 2);
        }
    }
}

BOOST_AUTO_TEST_CASE(upstream_error_text_has_the_key_redacted, *scaled_timeout(60))
{
    relay_fixture f;
    const auto r = post(f.port(), body_for("mock:echo_auth_error", R"("stream":true)"));
    BOOST_TEST(r.status == 401u);
    const auto message = string_of(error_of(r), "message");
    BOOST_TEST(message.find("invalid key") != std::string::npos, message);
    BOOST_TEST(r.body.find(test_api_key) == std::string::npos, r.body);
}

BOOST_AUTO_TEST_CASE(error_mid_stream_is_an_error_event_without_done, *scaled_timeout(60))
{
    relay_fixture f;
    const auto r = post(f.port(), body_for("mock:error_event", R"("stream":true)"));
    BOOST_TEST(r.status == 200u);
    const auto data = sse_data(r.body);
    BOOST_TEST_REQUIRE(data.size() == 3u, r.body); // role, w0, error
    BOOST_TEST(deltas(data, "content") == words("w", 1), boost::test_tools::per_element());
    const auto e = json::parse(data[2]).at("error").as_object();
    BOOST_TEST(string_of(e, "code") == "upstream_error");
    BOOST_TEST(string_of(e, "message").find("mock stream error") != std::string::npos);
    BOOST_TEST(r.body.find("[DONE]") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(silent_upstream_is_504, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--first-token-timeout", "1"}}};
    const auto r = post(f.port(), body_for("mock:never_answer", R"("stream":true)"));
    BOOST_TEST(r.status == 504u);
    BOOST_TEST(string_of(error_of(r), "code") == "timeout");
    // The relay closed the upstream request it gave up on.
    f.mock_wait("aborted", 1);
}

BOOST_AUTO_TEST_CASE(client_going_away_closes_the_upstream_request, *scaled_timeout(60))
{
    relay_fixture f;
    for (const bool stream : {true, false}) {
        BOOST_TEST_CONTEXT("stream " << stream)
        {
            f.mock_reset();
            api_connection c(f.port());
            c.send(body_for("mock:tokens=1000 mock:interval=50", stream ? R"("stream":true)" : ""));
            if (stream) {
                const auto got = c.read_until("\"w1 \"");
                BOOST_TEST(got.find("\"w0 \"") != std::string::npos);
            } else {
                f.mock_wait("open", 1);
            }
            c.close();
            const auto stats = f.mock_wait("aborted", 1);
            BOOST_TEST(integer(stats, "completed") == 0);
        }
    }
    // The relay goes on serving.
    const auto r = post(f.port(), body_for("after mock:tokens=1"));
    BOOST_TEST(r.status == 200u);
}

BOOST_AUTO_TEST_CASE(usage_and_cost_are_accounted_like_a_websocket_chat, *scaled_timeout(90))
{
    // Section 2 (stream_end.usage): the upstream's count or the relay's estimate, the cost
    // at the configured prices, in the answer, in /metrics and in generation_end.
    relay_fixture f{{.flags = {"--price-input", "1", "--price-output", "2"}}};
    struct usage_case
    {
        bool stream;
        std::string content;
        std::int64_t completion_tokens; // content and reasoning events
        bool estimated;
    };
    const std::vector<usage_case> cases{
        {true, "stream upstream mock:tokens=3", 3, false},
        {true, "stream counted mock:no_usage mock:tokens=4 mock:reasoning=2", 6, true},
        {false, "whole upstream mock:tokens=5", 5, false},
        // A whole answer without usage: its 12 bytes of text at 4 bytes a token.
        {false, "whole counted here mock:no_usage mock:tokens=4", 3, true},
    };
    api_connection c(f.port());
    std::int64_t prompt_sum = 0;
    std::int64_t completion_sum = 0;
    std::int64_t micro_sum = 0;
    for (const auto& uc : cases) {
        BOOST_TEST_CONTEXT(uc.content)
        {
            c.send(body_for(
                uc.content,
                uc.stream ? R"("stream":true,"stream_options":{"include_usage":true})" : ""
            ));
            const auto r = c.read_response();
            BOOST_TEST_REQUIRE(r.result_int() == 200u, r.body());
            // The answer is the upstream's: its usage when it gave one, nothing of the
            // relay's (section 9); the relay's estimate and cost go to /metrics and the log.
            std::optional<json::object> usage;
            if (uc.stream) {
                const auto data = sse_data(r.body());
                BOOST_TEST_REQUIRE(data.size() >= 3u, r.body());
                BOOST_TEST(data.back() == "[DONE]");
                const auto chunk = json::parse(data[data.size() - 2]).as_object();
                if (chunk.contains("usage")) {
                    BOOST_TEST(chunk.at("choices").as_array().empty());
                    usage = chunk.at("usage").as_object();
                }
            } else {
                const auto o = json::parse(r.body()).as_object();
                if (o.contains("usage"))
                    usage = o.at("usage").as_object();
            }
            // The relay's estimate follows the mock's own rule, so both agree exactly.
            const auto p = mock_prompt_tokens(f.mock_stats().at("last_body").as_object());
            const auto micro = p * 1 + uc.completion_tokens * 2;
            BOOST_TEST(usage.has_value() == !uc.estimated);
            if (usage) {
                BOOST_TEST(integer(*usage, "prompt_tokens") == p);
                BOOST_TEST(integer(*usage, "completion_tokens") == uc.completion_tokens);
                BOOST_TEST(integer(*usage, "total_tokens") == p + uc.completion_tokens);
                BOOST_TEST(usage->size() == 3u, json::serialize(*usage));
            }
            prompt_sum += p;
            completion_sum += uc.completion_tokens;
            micro_sum += micro;
        }
    }

    // Served after the last answer on the same connection: its accounting is complete.
    const auto m = parse_metric_samples(c.get("/metrics").body());
    BOOST_TEST(m.at("tokenrelay_generations_total") == 4);
    BOOST_TEST(m.at("tokenrelay_prompt_tokens_total") == prompt_sum);
    BOOST_TEST(m.at("tokenrelay_completion_tokens_total") == completion_sum);
    BOOST_TEST(m.at("tokenrelay_estimated_usage_total") == 2);
    BOOST_TEST(m.at("tokenrelay_cost_usd_total") == micro_usd(micro_sum));

    const auto lines = generation_end_lines(f);
    BOOST_TEST_REQUIRE(lines.size() == cases.size(), f.relay().stderr_text());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& line = lines[i];
        BOOST_TEST_CONTEXT(line)
        {
            BOOST_TEST(has(line, " id=chatcmpl-"));
            BOOST_TEST(has(line, " model=deepseek-v3.2 "));
            BOOST_TEST(has(line, " reason=stop "));
            BOOST_TEST(
                has(line, " completion_tokens=" + std::to_string(cases[i].completion_tokens) + " ")
            );
            BOOST_TEST(has(line, cases[i].estimated ? " usage=estimated " : " usage=upstream "));
            BOOST_TEST(has(line, " cost_usd=0.0000"));
            BOOST_TEST(has(line, cases[i].stream ? " stream=true " : " stream=false "));
            BOOST_TEST(has(line, " status=200"));
            // No session behind this door, and no user data without --log-content.
            BOOST_TEST(!has(line, "session="));
            BOOST_TEST(!has(line, "content="));
        }
    }
    BOOST_TEST(!has(f.relay().stderr_text(), "stream upstream"));
}

BOOST_AUTO_TEST_CASE(upstream_failure_is_logged_and_counted_as_far_as_it_got, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--log-content"}}};
    api_connection c(f.port());
    c.send(
        body_for("cut mock:error_event", R"("stream":true,"stream_options":{"include_usage":true})")
    );
    const auto r = c.read_response();
    BOOST_TEST(r.result_int() == 200u);
    BOOST_TEST(r.body().find("\"usage\"") == std::string::npos, r.body());

    const auto m = parse_metric_samples(c.get("/metrics").body());
    const auto p = mock_prompt_tokens(f.mock_stats().at("last_body").as_object());
    BOOST_TEST(m.at("tokenrelay_prompt_tokens_total") == p);
    BOOST_TEST(m.at("tokenrelay_completion_tokens_total") == 1); // w0 came before the error
    BOOST_TEST(m.at("tokenrelay_estimated_usage_total") == 1);
    BOOST_TEST(m.at("tokenrelay_errors_total{code=\"upstream_error\"}") == 1);
    const auto lines = generation_end_lines(f);
    BOOST_TEST_REQUIRE(lines.size() == 1u, f.relay().stderr_text());
    BOOST_TEST(has(lines[0], " reason=upstream_error "), lines[0]);
    BOOST_TEST(has(lines[0], " usage=estimated "), lines[0]);
    BOOST_TEST(has(lines[0], R"( content="cut mock:error_event")"), lines[0]);
    BOOST_TEST(has(lines[0], R"( reply="w0 ")"), lines[0]);
}

BOOST_AUTO_TEST_CASE(upstream_request_cap_answers_503_overloaded, *scaled_timeout(60))
{
    // Section 2: --max-upstream-requests caps both doors together; past it the request is
    // refused at once, not queued, and the upstream is not asked.
    relay_fixture f{{.flags = {"--max-upstream-requests", "1"}}};
    api_connection holder(f.port());
    holder.send(body_for("holds the slot mock:tokens=4 mock:interval=500", R"("stream":true)"));
    holder.read_until("\"w0 \"");

    for (const bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream)
        {
            const auto r =
                post(f.port(), body_for("wants a slot", stream ? R"("stream":true)" : ""));
            BOOST_TEST(r.status == 503u);
            BOOST_TEST(r.header("Retry-After") == "1");
            const auto e = error_of(r);
            BOOST_TEST(string_of(e, "code") == "overloaded");
            BOOST_TEST(string_of(e, "type") == "server_error");
            BOOST_TEST(e.at("param").is_null());
            BOOST_TEST(has(string_of(e, "message"), "limit of upstream requests"));
        }
    }
    // The WebSocket door shares the cap.
    auto s = f.open_session();
    s->send(json::object{{"type", "chat"}, {"content", "ws wants a slot"}});
    const auto err = s->read();
    BOOST_TEST(string_of(err, "code") == "overloaded");
    BOOST_TEST(integer(f.mock_stats(), "requests") == 1);

    // The slot is free once the upstream request is over, before the answer's end reaches
    // its client.
    const auto rest = holder.read_rest();
    BOOST_TEST(!rest.ec.failed(), rest.ec.message());
    BOOST_TEST(
        deltas(sse_data(rest.body), "content") == words("w", 4), boost::test_tools::per_element()
    );
    const auto ok = post(f.port(), body_for("now there is room mock:tokens=1"));
    BOOST_TEST(ok.status == 200u, ok.body);
    const auto m = parse_metric_samples(http_get(f.port(), "/metrics").body);
    BOOST_TEST(m.at("tokenrelay_errors_total{code=\"overloaded\"}") == 3);
}

BOOST_AUTO_TEST_CASE(sigterm_lets_running_completions_finish, *scaled_timeout(60))
{
    relay_fixture f;
    api_connection streamed(f.port());
    streamed.send(body_for("drain me mock:tokens=40 mock:interval=50", R"("stream":true)"));
    streamed.read_until("\"w1 \"");
    api_connection whole(f.port());
    whole.send(body_for("and me mock:tokens=40 mock:interval=50"));
    f.mock_wait("open", 2);

    f.relay().signal(SIGTERM);
    BOOST_TEST(becomes_unready(f.port(), 1500ms));
    // Section 2: no new work while draining.
    const auto refused = post(f.port(), body_for("too late mock:tokens=1"));
    BOOST_TEST(refused.status == 503u);
    BOOST_TEST(string_of(error_of(refused), "code") == "overloaded");

    // The running ones finish: every token, the finish and [DONE]; the whole body.
    const auto rest = streamed.read_rest();
    BOOST_TEST(!rest.ec.failed(), rest.ec.message());
    const auto data = sse_data(rest.body);
    BOOST_TEST(deltas(data, "content") == words("w", 40), boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(data.size() >= 2u);
    BOOST_TEST(
        json::serialize(json::parse(data[data.size() - 2]).at("choices")) ==
        R"([{"index":0,"delta":{},"finish_reason":"stop"}])"
    );
    BOOST_TEST(data.back() == "[DONE]");
    const auto r = whole.read_response();
    BOOST_TEST(r.result_int() == 200u);
    std::string text;
    for (const auto& w : words("w", 40))
        text += w;
    BOOST_TEST(
        json::parse(r.body()).at("choices").at(0).at("message").at("content").as_string() == text
    );

    const auto status = f.relay().wait_exit(10s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running after the drain");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
    BOOST_TEST(integer(f.mock_wait("completed", 2), "requests") == 2);
}

BOOST_AUTO_TEST_CASE(drain_timeout_ends_a_completion_still_running, *scaled_timeout(60))
{
    relay_fixture f{{.flags = {"--drain-timeout", "1"}}};
    api_connection c(f.port());
    c.send(body_for("too long mock:tokens=1000 mock:interval=50", R"("stream":true)"));
    c.read_until("\"w0 \"");

    const auto t0 = std::chrono::steady_clock::now();
    f.relay().signal(SIGTERM);
    // Cut off: the body never ends properly and carries no [DONE].
    const auto rest = c.read_rest();
    BOOST_TEST(rest.ec.failed());
    BOOST_TEST(rest.body.find("[DONE]") == std::string::npos);
    BOOST_TEST(rest.body.find("\"w5 \"") != std::string::npos); // it ran on meanwhile

    const auto status = f.relay().wait_exit(10s);
    BOOST_TEST_REQUIRE(status.has_value(), "relay still running after the drain");
    BOOST_TEST(*status == (exit_status{.exited = true, .code = 0}));
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took >= 900ms), "drained in " << took.count() << " ns");
    // Cut at the drain timeout, long before the reply's own end (50 s).
    BOOST_TEST((took < 30s), "drained in " << took.count() << " ns");
    // Its upstream request was closed, and it was accounted as shut down.
    BOOST_TEST(integer(f.mock_wait("aborted", 1), "aborted") == 1);
    const auto lines = generation_end_lines(f);
    BOOST_TEST_REQUIRE(lines.size() == 1u, f.relay().stderr_text());
    BOOST_TEST(has(lines[0], " reason=shutdown "), lines[0]);
    BOOST_TEST(has(lines[0], " usage=estimated "), lines[0]);
}

} // namespace
} // namespace tokenrelay::test
