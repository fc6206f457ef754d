#include <tokenrelay/protocol/completion_request.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace tokenrelay::protocol {
namespace {

// Small limits so every boundary can be hit with short literals: 3 messages and 24 bytes
// of content in all (a WebSocket chat's context plus its new message).
frame_limits test_limits()
{
    frame_limits l;
    l.max_content_bytes = 16;
    l.max_context_messages = 2;
    l.max_context_bytes = 8;
    l.max_tokens_ceiling = 100;
    l.allowed_models = {"m1", "m2"};
    l.max_image_bytes = 40;
    l.max_body_bytes = 600;
    return l;
}

completion_request parse_ok(std::string_view body, upstream_body how = upstream_body::forward)
{
    auto r = parse_completion_request(body, test_limits(), "m1", how);
    if (const auto* err = std::get_if<completion_error>(&r))
        BOOST_FAIL("unexpected error " << code_name(err->code) << ": " << err->message);
    return std::get<completion_request>(std::move(r));
}

completion_error parse_error(std::string_view body, upstream_body how = upstream_body::forward)
{
    auto r = parse_completion_request(body, test_limits(), "m1", how);
    if (std::holds_alternative<completion_request>(r))
        BOOST_FAIL("accepted: " << body);
    return std::get<completion_error>(std::move(r));
}

BOOST_AUTO_TEST_SUITE(completion_request_suite)

BOOST_AUTO_TEST_CASE(minimal_request_uses_the_default_model_and_no_stream)
{
    const auto r = parse_ok(R"({"messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST(r.request.model == "m1");
    BOOST_TEST(r.request.messages == (std::vector<chat_turn>{{"user", "hi"}}));
    BOOST_TEST(!r.request.temperature.has_value());
    BOOST_TEST(!r.request.max_tokens.has_value());
    BOOST_TEST(!r.stream);
    BOOST_TEST(!r.include_usage);
}

BOOST_AUTO_TEST_CASE(full_request_is_carried_over)
{
    const auto r = parse_ok(
        R"({"model":"m2","stream":true,"stream_options":{"include_usage":true},)"
        R"("temperature":1.5,"max_tokens":100,"top_p":0.3,"n":1,"user":"x",)"
        R"("messages":[{"role":"system","content":"be"},{"role":"assistant","content":"ok"},)"
        R"({"role":"user","content":"go on"}]})"
    );
    BOOST_TEST(r.request.model == "m2");
    BOOST_TEST(
        r.request.messages ==
        (std::vector<chat_turn>{{"system", "be"}, {"assistant", "ok"}, {"user", "go on"}})
    );
    BOOST_TEST(r.request.temperature.value() == 1.5);
    BOOST_TEST(r.request.max_tokens.value() == 100);
    BOOST_TEST(r.stream);
    BOOST_TEST(r.include_usage);
}

BOOST_AUTO_TEST_CASE(nulls_mean_not_given)
{
    const auto r = parse_ok(
        R"({"model":null,"stream":null,"stream_options":null,"temperature":null,)"
        R"("max_tokens":null,"n":null,"tools":null,"messages":[{"role":"user","content":"a"}]})"
    );
    BOOST_TEST(r.request.model == "m1");
    BOOST_TEST(!r.stream);
    BOOST_TEST(!r.request.temperature.has_value());
    BOOST_TEST(!r.request.max_tokens.has_value());
}

BOOST_AUTO_TEST_CASE(text_parts_are_joined)
{
    const auto r = parse_ok(R"({"messages":[{"role":"user","content":[{"type":"text","text":"ab"},)"
                            R"({"type":"text","text":"cd"}]}]})");
    BOOST_TEST(r.request.messages == (std::vector<chat_turn>{{"user", "abcd"}}));
}

BOOST_AUTO_TEST_CASE(max_completion_tokens_wins_over_max_tokens)
{
    const auto r = parse_ok(
        R"({"max_tokens":5,"max_completion_tokens":7,"messages":[{"role":"user","content":"a"}]})"
    );
    BOOST_TEST(r.request.max_tokens.value() == 7);
}

BOOST_AUTO_TEST_CASE(limits_are_inclusive)
{
    // 3 messages, 24 bytes, temperature 0 and 2, max_tokens 1 and the ceiling.
    const auto r = parse_ok(
        R"({"temperature":0,"max_tokens":100,"messages":[{"role":"user","content":"12345678"},)"
        R"({"role":"assistant","content":"12345678"},{"role":"user","content":"12345678"}]})"
    );
    BOOST_TEST(r.request.messages.size() == 3u);
    BOOST_TEST(r.request.temperature.value() == 0.0);
    BOOST_TEST(
        parse_ok(R"({"temperature":2,"max_tokens":1,"messages":[{"role":"user","content":""}]})")
            .request.max_tokens.value() == 1
    );
}

struct bad_case
{
    std::string name;
    std::string body;
    errc code;
    std::string param;
    std::string message_part;
};

BOOST_AUTO_TEST_CASE(invalid_requests_name_the_parameter)
{
    const std::string m = R"("messages":[{"role":"user","content":"a"}])";
    const std::vector<bad_case> cases{
        {"not json", R"({"messages":)", errc::bad_json, "", "not valid JSON"},
        {"not an object", R"([1,2])", errc::bad_json, "", "JSON object"},
        {"no messages", R"({"model":"m1"})", errc::bad_request, "messages", "non-empty array"},
        {"empty messages", R"({"messages":[]})", errc::bad_request, "messages", "non-empty"},
        {"messages not array", R"({"messages":"hi"})", errc::bad_request, "messages", "array"},
        {"message not object", R"({"messages":[1]})", errc::bad_request, "messages[0]", "object"},
        {"missing role",
         R"({"messages":[{"content":"a"}]})",
         errc::bad_request,
         "messages[0].role",
         "string"},
        {"number content",
         R"({"messages":[{"role":"user","content":5}]})",
         errc::bad_request,
         "messages[0].content",
         "string or an array"},
        {"part without type",
         R"({"messages":[{"role":"user","content":[{"text":"a"}]}]})",
         errc::bad_request,
         "messages[0].content[0].type",
         "string type"},
        {"image part without url",
         R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
         errc::bad_request,
         "messages[0].content[0].image_url.url",
         "must be a string"},
        {"text part without text",
         R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})",
         errc::bad_request,
         "messages[0].content[0].text",
         "must be a string"},
        {"model twice",
         R"({"model":"m1","model":"m3",)" + m + "}",
         errc::bad_request,
         "model",
         "twice"},
        {"too many messages",
         R"({"messages":[{"role":"user","content":"a"},{"role":"user","content":"a"},)"
         R"({"role":"user","content":"a"},{"role":"user","content":"a"}]})",
         errc::bad_request,
         "messages",
         "at most 3 entries"},
        {"too many bytes",
         R"({"messages":[{"role":"user","content":"1234567890123"},)"
         R"({"role":"user","content":"123456789012"}]})",
         errc::bad_request,
         "messages",
         "at most 24 bytes"},
        {"unknown model", "{\"model\":\"m3\"," + m + "}", errc::bad_request, "model", "allowed"},
        {"model not string", "{\"model\":1," + m + "}", errc::bad_request, "model", "allowed"},
        {"temperature high",
         "{\"temperature\":2.01," + m + "}",
         errc::bad_request,
         "temperature",
         "from 0 to 2"},
        {"temperature negative",
         "{\"temperature\":-0.1," + m + "}",
         errc::bad_request,
         "temperature",
         "from 0 to 2"},
        {"temperature string",
         "{\"temperature\":\"1\"," + m + "}",
         errc::bad_request,
         "temperature",
         "number"},
        {"max_tokens zero",
         "{\"max_tokens\":0," + m + "}",
         errc::bad_request,
         "max_tokens",
         "1 to 100"},
        {"max_tokens over",
         "{\"max_tokens\":101," + m + "}",
         errc::bad_request,
         "max_tokens",
         "1 to 100"},
        {"max_tokens float",
         "{\"max_tokens\":5.0," + m + "}",
         errc::bad_request,
         "max_tokens",
         "integer"},
        {"max_completion_tokens over",
         "{\"max_completion_tokens\":101," + m + "}",
         errc::bad_request,
         "max_completion_tokens",
         "1 to 100"},
        {"stream string", "{\"stream\":\"yes\"," + m + "}", errc::bad_request, "stream", "boolean"},
        {"stream_options not object",
         "{\"stream_options\":true," + m + "}",
         errc::bad_request,
         "stream_options",
         "object"},
        {"include_usage not bool",
         "{\"stream_options\":{\"include_usage\":1}," + m + "}",
         errc::bad_request,
         "stream_options.include_usage",
         "boolean"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name)
        {
            const auto err = parse_error(c.body);
            BOOST_TEST(code_name(err.code) == code_name(c.code));
            BOOST_TEST(err.param == c.param);
            BOOST_TEST(err.message.find(c.message_part) != std::string::npos, err.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(translating_refuses_what_has_no_equivalent)
{
    const std::string m = R"("messages":[{"role":"user","content":"a"}])";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"{\"tools\":[]," + m + "}", "tools"},
        {R"({"messages":[{"role":"developer","content":"d"}],"stop":"x"})", "stop"},
        {"{\"n\":2," + m + "}", "n"},
        {"{\"top_k\":2," + m + "}", "top_k"},
        {"{\"logprobs\":true," + m + "}", "logprobs"},
        {R"({"messages":[{"role":"tool","content":"a"}]})", "messages[0].role"},
        {R"({"messages":[{"role":"user","content":"a","name":"x"}]})", "messages[0].name"},
        {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
         "messages[0].content[0]"},
    };
    for (const auto& [body, param] : cases) {
        BOOST_TEST_CONTEXT(body)
        {
            const auto err = parse_error(body, upstream_body::translate);
            BOOST_TEST(err.param == param);
            BOOST_TEST(err.message.find("no equivalent") != std::string::npos, err.message);
        }
    }
    // Content is required there, and null members are absent ones.
    BOOST_TEST(
        parse_error(R"({"messages":[{"role":"user"}]})", upstream_body::translate).param ==
        "messages[0].content"
    );
    const auto r = parse_ok(
        "{\"n\":1,\"logprobs\":false,\"parallel_tool_calls\":true,\"tools\":null," + m + "}",
        upstream_body::translate
    );
    BOOST_TEST(!r.request.forward.has_value());
    // A developer message is a system one for the Anthropic API.
    BOOST_TEST(
        parse_ok(R"({"messages":[{"role":"developer","content":"a"}]})", upstream_body::translate)
            .request.messages.front()
            .role == "system"
    );
}

BOOST_AUTO_TEST_CASE(forwarding_takes_every_role_part_and_field)
{
    const std::string body =
        R"({"model":"m1","tools":[{"type":"function","function":{"name":"f","parameters":{}}}],)"
        R"("n":2,"top_k":1.50,"response_format":{"type":"json_schema","json_schema":{"x":1e2}},)"
        R"("messages":[)"
        R"({"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function"}]},)"
        R"({"role":"tool","tool_call_id":"c","content":"t"},)"
        R"({"role":"user","content":[{"type":"text","text":"ab"},{"type":"input_audio","input_audio":{}}]}]})";
    const auto r = parse_ok(body);
    BOOST_TEST_REQUIRE(r.request.forward.has_value());
    // Nothing to edit: the bytes as they came, numbers in their own spelling.
    BOOST_TEST(r.request.forward->body == body);
    BOOST_TEST(!r.request.forward->stream);
    BOOST_TEST(
        r.request.messages ==
        (std::vector<chat_turn>{{"assistant", ""}, {"tool", "t"}, {"user", "ab"}})
    );
}

BOOST_AUTO_TEST_CASE(forwarding_edits_only_the_model_and_the_usage_request)
{
    const std::string m = R"("messages":[{"role":"user","content":"a"}])";
    // No model: the default one goes in first.
    BOOST_TEST(parse_ok("{" + m + "}").request.forward->body == "{\"model\":\"m1\"," + m + "}");
    // A null model is replaced where it stands.
    BOOST_TEST(
        parse_ok("{" + m + ", \"model\" : null }").request.forward->body ==
        "{" + m + ", \"model\" : \"m1\" }"
    );
    // Streaming, the upstream is always asked for usage; other stream_options stay.
    auto r = parse_ok("{\"model\":\"m2\",\"stream\":true," + m + "}");
    BOOST_TEST(
        r.request.forward->body ==
        "{\"stream_options\":{\"include_usage\":true},\"model\":\"m2\",\"stream\":true," + m + "}"
    );
    BOOST_TEST(r.request.forward->stream);
    BOOST_TEST(!r.include_usage);
    r = parse_ok(
        "{\"model\":\"m2\",\"stream\":true,\"stream_options\":{\"x\":[1],\"include_usage\":false}"
        "," +
        m + "}"
    );
    BOOST_TEST(
        r.request.forward->body ==
        "{\"model\":\"m2\",\"stream\":true,\"stream_options\":{\"x\":[1],\"include_usage\":true}," +
            m + "}"
    );
    // Asked for already: untouched.
    const auto asked =
        "{\"model\":\"m2\",\"stream\":true,\"stream_options\":{\"include_usage\":true}," + m + "}";
    r = parse_ok(asked);
    BOOST_TEST(r.request.forward->body == asked);
    BOOST_TEST(r.include_usage);
}

BOOST_AUTO_TEST_CASE(images_have_their_own_limit)
{
    const auto with_image = [](std::size_t url_bytes, std::size_t padding) {
        return R"({"top_k":")" + std::string(padding, 'p') +
               R"(","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":")" +
               std::string(url_bytes, 'u') + R"("}}]}]})";
    };
    // 40 bytes of image URL on top of a body of at most 600.
    const auto base = with_image(0, 0).size();
    BOOST_TEST(parse_ok(with_image(40, 600 - base)).request.forward.has_value());
    auto err = parse_error(with_image(41, 0));
    BOOST_TEST(err.status == 413);
    BOOST_TEST(err.param == "messages");
    err = parse_error(with_image(40, 601 - base));
    BOOST_TEST(err.status == 413);
    BOOST_TEST(err.message.find("images aside") != std::string::npos, err.message);
}

BOOST_AUTO_TEST_CASE(an_empty_allow_list_refuses_every_model)
{
    auto limits = test_limits();
    limits.allowed_models.clear();
    auto r = parse_completion_request(
        R"({"model":"m1","messages":[{"role":"user","content":"a"}]})",
        limits,
        "m1",
        upstream_body::forward
    );
    BOOST_TEST_REQUIRE(std::holds_alternative<completion_error>(r));
    BOOST_TEST(std::get<completion_error>(r).param == "model");
    // Without a model the relay's own is used.
    r = parse_completion_request(
        R"({"messages":[{"role":"user","content":"a"}]})", limits, "m1", upstream_body::forward
    );
    BOOST_TEST_REQUIRE(std::holds_alternative<completion_request>(r));
    BOOST_TEST(std::get<completion_request>(r).request.model == "m1");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::protocol
