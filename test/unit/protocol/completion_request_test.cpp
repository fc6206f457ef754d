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
    return l;
}

completion_request parse_ok(std::string_view body)
{
    auto r = parse_completion_request(body, test_limits(), "m1");
    if (const auto* err = std::get_if<completion_error>(&r))
        BOOST_FAIL("unexpected error " << code_name(err->code) << ": " << err->message);
    return std::get<completion_request>(std::move(r));
}

completion_error parse_error(std::string_view body)
{
    auto r = parse_completion_request(body, test_limits(), "m1");
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
        {"bad role",
         R"({"messages":[{"role":"tool","content":"a"}]})",
         errc::bad_request,
         "messages[0].role",
         "system, user, assistant"},
        {"missing role",
         R"({"messages":[{"content":"a"}]})",
         errc::bad_request,
         "messages[0].role",
         "one of"},
        {"missing content",
         R"({"messages":[{"role":"user"}]})",
         errc::bad_request,
         "messages[0].content",
         "required"},
        {"null content",
         R"({"messages":[{"role":"user","content":null}]})",
         errc::bad_request,
         "messages[0].content",
         "required"},
        {"number content",
         R"({"messages":[{"role":"user","content":5}]})",
         errc::bad_request,
         "messages[0].content",
         "string or an array"},
        {"image part",
         R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
         errc::bad_request,
         "messages[0].content",
         "[0] must be"},
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
        {"n two", "{\"n\":2," + m + "}", errc::bad_request, "n", "n must be 1"},
        {"tools", "{\"tools\":[]," + m + "}", errc::bad_request, "tools", "not supported"},
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

BOOST_AUTO_TEST_CASE(an_empty_allow_list_refuses_every_model)
{
    auto limits = test_limits();
    limits.allowed_models.clear();
    auto r = parse_completion_request(
        R"({"model":"m1","messages":[{"role":"user","content":"a"}]})", limits, "m1"
    );
    BOOST_TEST_REQUIRE(std::holds_alternative<completion_error>(r));
    BOOST_TEST(std::get<completion_error>(r).param == "model");
    // Without a model the relay's own is used.
    r = parse_completion_request(R"({"messages":[{"role":"user","content":"a"}]})", limits, "m1");
    BOOST_TEST_REQUIRE(std::holds_alternative<completion_request>(r));
    BOOST_TEST(std::get<completion_request>(r).request.model == "m1");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::protocol
