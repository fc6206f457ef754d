#include <tokenrelay/protocol/anthropic_translation.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tokenrelay::protocol {
namespace {

namespace json = boost::json;

constexpr std::string_view model = "claude-test";
constexpr std::int64_t default_max = 1024;

/// The Anthropic body for an OpenAI body that translates.
json::value translated(std::string_view openai)
{
    auto result = anthropic_request_body(json::parse(openai).as_object(), model, default_max);
    if (const auto* err = std::get_if<translation_error>(&result))
        BOOST_FAIL("refused: " << err->param << ": " << err->message);
    return json::parse(std::get<std::string>(result));
}

/// The error for an OpenAI body that does not translate.
translation_error refused(std::string_view openai)
{
    auto result = anthropic_request_body(json::parse(openai).as_object(), model, default_max);
    if (const auto* body = std::get_if<std::string>(&result))
        BOOST_FAIL("translated: " << *body);
    return std::get<translation_error>(result);
}

/// The param an OpenAI body is refused for, checking the message names it.
std::string refused_param(std::string_view openai)
{
    auto err = refused(openai);
    BOOST_TEST(err.message.find(err.param) != std::string::npos);
    return err.param;
}

/// A body with one user turn saying "hi" and `extra` top-level members.
std::string with(std::string_view extra)
{
    return R"({"model":"gpt-x","messages":[{"role":"user","content":"hi"}],)" + std::string(extra) +
           "}";
}

/// A body whose messages are `messages`.
std::string conversation(std::string_view messages)
{
    return R"({"model":"gpt-x","messages":)" + std::string(messages) + "}";
}

BOOST_AUTO_TEST_SUITE(anthropic_translation_suite)

// ---- the request ----

BOOST_AUTO_TEST_CASE(minimal_request)
{
    BOOST_TEST(
        translated(R"({"model":"gpt-x","messages":[{"role":"user","content":"hi"}]})") ==
        json::parse(R"({"model":"claude-test","max_tokens":1024,)"
                    R"("messages":[{"role":"user","content":"hi"}],"stream":false})")
    );
}

BOOST_AUTO_TEST_CASE(max_tokens_prefers_max_completion_tokens)
{
    BOOST_TEST(translated(with(R"("max_tokens":77)")).at("max_tokens") == 77);
    BOOST_TEST(translated(with(R"("max_completion_tokens":88)")).at("max_tokens") == 88);
    BOOST_TEST(
        translated(with(R"("max_tokens":77,"max_completion_tokens":88)")).at("max_tokens") == 88
    );
    BOOST_TEST(translated(with(R"("max_tokens":null)")).at("max_tokens") == 1024);
}

BOOST_AUTO_TEST_CASE(options_are_copied_or_renamed)
{
    const auto out =
        translated(with(R"("stream":true,"temperature":0.5,"top_p":1,"stop":"END","user":"u-42",)"
                        R"("stream_options":{"include_usage":true})"));
    BOOST_TEST(
        out == json::parse(R"({"model":"claude-test","max_tokens":1024,)"
                           R"("messages":[{"role":"user","content":"hi"}],"stream":true,)"
                           R"("temperature":0.5,"top_p":1,"stop_sequences":["END"],)"
                           R"("metadata":{"user_id":"u-42"}})")
    );
    BOOST_TEST(
        translated(with(R"("stop":["a","b"])")).at("stop_sequences") == json::parse(R"(["a","b"])")
    );
    BOOST_TEST(!translated(with(R"("stop":[])")).as_object().contains("stop_sequences"));
    BOOST_TEST(translated(with(R"("stream":false)")).at("stream") == false);
    BOOST_TEST(refused_param(with(R"("stop":["a",1])")) == "stop[1]");
    BOOST_TEST(refused_param(with(R"("user":5)")) == "user");
    BOOST_TEST(refused_param(with(R"("top_p":"high")")) == "top_p");
}

BOOST_AUTO_TEST_CASE(system_and_developer_become_the_system_prompt)
{
    const auto out =
        translated(conversation(R"([{"role":"system","content":"Be brief."},)"
                                R"({"role":"developer","content":[{"type":"text","text":"Use "},)"
                                R"({"type":"text","text":"French."}]},)"
                                R"({"role":"user","content":"hi"},)"
                                R"({"role":"system","content":"Late rule."}])"));
    BOOST_TEST(out.at("system") == "Be brief.\n\nUse French.\n\nLate rule.");
    BOOST_TEST(out.at("messages") == json::parse(R"([{"role":"user","content":"hi"}])"));
    BOOST_TEST(!translated(with(R"("n":1)")).as_object().contains("system"));
}

BOOST_AUTO_TEST_CASE(system_content_is_text_only)
{
    BOOST_TEST(
        refused_param(conversation(
            R"([{"role":"system","content":[{"type":"image_url",)"
            R"("image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"hi"}])"
        )) == "messages[0].content[0]"
    );
    BOOST_TEST(
        refused_param(conversation(
            R"([{"role":"system","content":"s","name":"boss"},{"role":"user","content":"hi"}])"
        )) == "messages[0].name"
    );
}

BOOST_AUTO_TEST_CASE(user_parts_become_blocks)
{
    const auto out = translated(conversation(
        R"([{"role":"user","content":[)"
        R"({"type":"text","text":"What is this?"},)"
        R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},)"
        R"({"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"auto"}},)"
        R"({"type":"image_url","image_url":{"url":"http://example.com/dog.gif","detail":null}}]}])"
    ));
    BOOST_TEST(
        out.at("messages") ==
        json::parse(
            R"([{"role":"user","content":[)"
            R"({"type":"text","text":"What is this?"},)"
            R"({"type":"image","source":{"type":"base64","media_type":"image/png",)"
            R"("data":"iVBORw0KGgo="}},)"
            R"({"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},)"
            R"({"type":"image","source":{"type":"url","url":"http://example.com/dog.gif"}}]}])"
        )
    );
}

BOOST_AUTO_TEST_CASE(untranslatable_parts_are_refused)
{
    BOOST_TEST(
        refused_param(conversation(
            R"([{"role":"user","content":[{"type":"text","text":"listen"},)"
            R"({"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}])"
        )) == "messages[0].content[1]"
    );
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":[{"type":"file","file":{"file_id":"f1"}}]}])")
        ) == "messages[0].content[0]"
    );
    BOOST_TEST(
        refused_param(conversation(R"([{"role":"user","content":[{"type":"image_url",)"
                                   R"("image_url":{"url":"data:image/svg+xml,%3Csvg%3E"}}]}])")) ==
        "messages[0].content[0].image_url.url"
    );
    BOOST_TEST(
        refused_param(conversation(R"([{"role":"user","content":[{"type":"image_url",)"
                                   R"("image_url":{"url":"data:;base64,AAAA"}}]}])")) ==
        "messages[0].content[0].image_url.url"
    );
    BOOST_TEST(
        refused_param(conversation(R"([{"role":"user","content":[{"type":"image_url",)"
                                   R"("image_url":{"url":"ftp://example.com/a.png"}}]}])")) ==
        "messages[0].content[0].image_url.url"
    );
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":[{"type":"image_url",)"
                         R"("image_url":{"url":"https://example.com/a.png","detail":"high"}}]}])")
        ) == "messages[0].content[0].image_url.detail"
    );
    BOOST_TEST(
        refused_param(conversation(
            R"([{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}])"
        )) == "messages[0].content[0].cache_control"
    );
}

BOOST_AUTO_TEST_CASE(non_base64_data_url_message_says_why)
{
    const auto err = refused(conversation(R"([{"role":"user","content":[{"type":"image_url",)"
                                          R"("image_url":{"url":"data:image/png,rawbytes"}}]}])"));
    BOOST_TEST(err.param == "messages[0].content[0].image_url.url");
    BOOST_TEST(err.message.find("not base64") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(assistant_text_and_tool_calls_become_blocks)
{
    const auto out = translated(conversation(
        R"([{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":"Let me look.","refusal":null,"tool_calls":[)"
        R"({"id":"call_1","type":"function","function":{"name":"get_weather",)"
        R"("arguments":"{\"city\":\"Paris\",\"days\":2}"}},)"
        R"({"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]},)"
        R"({"role":"assistant","content":null,"tool_calls":[)"
        R"({"id":"call_3","type":"function","function":{"name":"ping","arguments":"{}"}}]},)"
        R"({"role":"assistant","content":[{"type":"text","text":"Done."}]},)"
        R"({"role":"assistant","content":"Plain."}])"
    ));
    BOOST_TEST(
        out.at("messages") ==
        json::parse(R"([{"role":"user","content":"weather?"},)"
                    R"({"role":"assistant","content":[{"type":"text","text":"Let me look."},)"
                    R"({"type":"tool_use","id":"call_1","name":"get_weather",)"
                    R"("input":{"city":"Paris","days":2}},)"
                    R"({"type":"tool_use","id":"call_2","name":"now","input":{}}]},)"
                    R"({"role":"assistant","content":[)"
                    R"({"type":"tool_use","id":"call_3","name":"ping","input":{}}]},)"
                    R"({"role":"assistant","content":[{"type":"text","text":"Done."}]},)"
                    R"({"role":"assistant","content":"Plain."}])")
    );
}

BOOST_AUTO_TEST_CASE(tool_arguments_must_be_an_object)
{
    for (const auto* arguments : {R"([1,2])", R"(\"text\")", R"({not json)"}) {
        const auto err = refused(conversation(
            R"([{"role":"user","content":"q"},{"role":"assistant","tool_calls":[)"
            R"({"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},)"
            R"({"id":"b","type":"function","function":{"name":"f","arguments":")" +
            std::string(arguments) + R"("}}]}])"
        ));
        BOOST_TEST(err.param == "messages[1].tool_calls[1].function.arguments");
        BOOST_TEST(err.message.find("object") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(assistant_fields_without_equivalent_are_refused)
{
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":"q"},{"role":"assistant","content":null,)"
                         R"("refusal":"I can't."}])")
        ) == "messages[1].refusal"
    );
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":"q"},{"role":"assistant","content":"a",)"
                         R"("audio":{"id":"au_1"}}])")
        ) == "messages[1].audio"
    );
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":"q"},{"role":"assistant","tool_calls":[)"
                         R"({"id":"c","type":"custom","custom":{"name":"f","input":"x"}}]}])")
        ) == "messages[1].tool_calls[0].type"
    );
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":"q"},{"role":"assistant","content":null}])")
        ) == "messages[1].content"
    );
}

BOOST_AUTO_TEST_CASE(tool_results_share_one_user_turn)
{
    const auto out = translated(conversation(
        R"([{"role":"user","content":"weather in Paris and Rome?"},)"
        R"({"role":"assistant","tool_calls":[)"
        R"({"id":"t1","type":"function","function":{"name":"w","arguments":"{\"c\":\"Paris\"}"}},)"
        R"({"id":"t2","type":"function","function":{"name":"w","arguments":"{\"c\":\"Rome\"}"}}]},)"
        R"({"role":"tool","tool_call_id":"t1","content":"sunny"},)"
        R"({"role":"tool","tool_call_id":"t2","content":[{"type":"text","text":"rain"}]},)"
        R"({"role":"user","content":"And tomorrow?"},)"
        R"({"role":"assistant","content":"Same."},)"
        R"({"role":"user","content":[{"type":"text","text":"ok"}]}])"
    ));
    BOOST_TEST(
        out.at("messages") ==
        json::parse(
            R"([{"role":"user","content":"weather in Paris and Rome?"},)"
            R"({"role":"assistant","content":[)"
            R"({"type":"tool_use","id":"t1","name":"w","input":{"c":"Paris"}},)"
            R"({"type":"tool_use","id":"t2","name":"w","input":{"c":"Rome"}}]},)"
            R"({"role":"user","content":[)"
            R"({"type":"tool_result","tool_use_id":"t1","content":"sunny"},)"
            R"({"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"rain"}]},)"
            R"({"type":"text","text":"And tomorrow?"}]},)"
            R"({"role":"assistant","content":"Same."},)"
            R"({"role":"user","content":[{"type":"text","text":"ok"}]}])"
        )
    );
}

BOOST_AUTO_TEST_CASE(user_parts_after_tool_results_join_them)
{
    const auto out = translated(
        conversation(R"([{"role":"user","content":"q"},)"
                     R"({"role":"assistant","tool_calls":[)"
                     R"({"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
                     R"({"role":"tool","tool_call_id":"t1","content":"r"},)"
                     R"({"role":"system","content":"hoisted"},)"
                     R"({"role":"user","content":[{"type":"text","text":"look"},)"
                     R"({"type":"image_url","image_url":{"url":"https://x/y.png"}}]}])")
    );
    BOOST_TEST(out.at("system") == "hoisted");
    BOOST_TEST(
        out.at("messages").as_array().back() ==
        json::parse(R"({"role":"user","content":[)"
                    R"({"type":"tool_result","tool_use_id":"t1","content":"r"},)"
                    R"({"type":"text","text":"look"},)"
                    R"({"type":"image","source":{"type":"url","url":"https://x/y.png"}}]})")
    );
}

BOOST_AUTO_TEST_CASE(message_fields_without_equivalent_are_refused)
{
    BOOST_TEST(
        refused_param(conversation(R"([{"role":"user","content":"hi","name":"ann"}])")) ==
        "messages[0].name"
    );
    BOOST_TEST(
        refused_param(conversation(
            R"([{"role":"user","content":"q"},{"role":"function","name":"f","content":"x"}])"
        )) == "messages[1].role"
    );
    BOOST_TEST(
        refused_param(
            conversation(R"([{"role":"user","content":"q"},{"role":"tool","content":"x"}])")
        ) == "messages[1].tool_call_id"
    );
    BOOST_TEST(
        refused_param(conversation(R"([{"role":"user","content":"q"},)"
                                   R"({"role":"tool","tool_call_id":"t","content":"x","name":"f"}])"
        )) == "messages[1].name"
    );
    BOOST_TEST(
        refused_param(conversation(
            R"([{"role":"user","content":"q"},{"role":"tool","tool_call_id":"t","content":[)"
            R"({"type":"image_url","image_url":{"url":"https://x/y.png"}}]}])"
        )) == "messages[1].content[0]"
    );
    // Nulls inside messages count as absent, as the SDKs send them for unset fields.
    BOOST_TEST(
        translated(conversation(R"([{"role":"user","content":"hi","name":null}])"))
            .at("messages") == json::parse(R"([{"role":"user","content":"hi"}])")
    );
}

BOOST_AUTO_TEST_CASE(function_tools_keep_their_schema)
{
    const auto out = translated(
        with(R"("tools":[{"type":"function","function":{"name":"get_weather",)"
             R"("description":"Weather of a city","strict":true,"parameters":{"type":"object",)"
             R"("properties":{"days":{"type":"integer","minimum":1,"maximum":18446744073709551615,)"
             R"("default":-3},"ratio":{"type":"number","multipleOf":0.25}},)"
             R"("required":["days"],"additionalProperties":false}}},)"
             R"({"type":"function","function":{"name":"now"}}])")
    );
    const auto expected =
        json::parse(R"([{"name":"get_weather","description":"Weather of a city","input_schema":{)"
                    R"("type":"object","properties":{"days":{"type":"integer","minimum":1,)"
                    R"("maximum":18446744073709551615,"default":-3},)"
                    R"("ratio":{"type":"number","multipleOf":0.25}},)"
                    R"("required":["days"],"additionalProperties":false}},)"
                    R"({"name":"now","input_schema":{"type":"object","properties":{}}}])");
    BOOST_TEST(out.at("tools") == expected);
    const auto& days = out.at("tools").at(0).at("input_schema").at("properties").at("days");
    BOOST_TEST(days.at("maximum").is_uint64());
    BOOST_TEST(days.at("default").is_int64());
    BOOST_TEST(!out.as_object().contains("tool_choice"));
}

BOOST_AUTO_TEST_CASE(non_function_tools_are_refused)
{
    BOOST_TEST(
        refused_param(with(R"("tools":[{"type":"function","function":{"name":"f"}},)"
                           R"({"type":"custom","custom":{"name":"g"}}])")) == "tools[1].type"
    );
    BOOST_TEST(
        refused_param(with(R"("tools":[{"type":"function","function":{"name":"f","x":1}}])")) ==
        "tools[0].function.x"
    );
}

BOOST_AUTO_TEST_CASE(tool_choice_maps)
{
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],)";
    BOOST_TEST(
        translated(with(tools + R"("tool_choice":"auto")")).at("tool_choice") ==
        json::parse(R"({"type":"auto"})")
    );
    BOOST_TEST(
        translated(with(tools + R"("tool_choice":"none")")).at("tool_choice") ==
        json::parse(R"({"type":"none"})")
    );
    BOOST_TEST(
        translated(with(tools + R"("tool_choice":"required")")).at("tool_choice") ==
        json::parse(R"({"type":"any"})")
    );
    BOOST_TEST(
        translated(with(tools + R"("tool_choice":{"type":"function","function":{"name":"f"}})"))
            .at("tool_choice") == json::parse(R"({"type":"tool","name":"f"})")
    );
    BOOST_TEST(refused_param(with(tools + R"("tool_choice":"sometimes")")) == "tool_choice");
    BOOST_TEST(
        refused_param(with(
            tools + R"("tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto"}})"
        )) == "tool_choice.type"
    );
}

BOOST_AUTO_TEST_CASE(parallel_tool_calls_false_disables_parallel_use)
{
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],)";
    BOOST_TEST(
        translated(with(tools + R"("parallel_tool_calls":false)")).at("tool_choice") ==
        json::parse(R"({"type":"auto","disable_parallel_tool_use":true})")
    );
    BOOST_TEST(
        translated(with(tools + R"("tool_choice":"required","parallel_tool_calls":false)"))
            .at("tool_choice") == json::parse(R"({"type":"any","disable_parallel_tool_use":true})")
    );
    // Nothing to run in parallel: no tool_choice is made up next to no tools, and none
    // has no such option.
    BOOST_TEST(
        !translated(with(R"("parallel_tool_calls":false)")).as_object().contains("tool_choice")
    );
    BOOST_TEST(
        translated(with(tools + R"("tool_choice":"none","parallel_tool_calls":false)"))
            .at("tool_choice") == json::parse(R"({"type":"none"})")
    );
    BOOST_TEST(!translated(with(tools + R"("parallel_tool_calls":true)"))
                    .as_object()
                    .contains("tool_choice"));
}

BOOST_AUTO_TEST_CASE(defaults_and_nulls_are_accepted_silently)
{
    const auto out = translated(
        with(R"("n":1,"logprobs":false,"parallel_tool_calls":true,"stream_options":{"x":1},)"
             R"("frequency_penalty":0,"presence_penalty":0.0,"seed":null,"response_format":null,)"
             R"("temperature":null,"top_logprobs":null)")
    );
    BOOST_TEST(
        out == json::parse(R"({"model":"claude-test","max_tokens":1024,)"
                           R"("messages":[{"role":"user","content":"hi"}],"stream":false})")
    );
}

BOOST_AUTO_TEST_CASE(fields_without_equivalent_are_refused)
{
    BOOST_TEST(
        refused_param(with(R"("response_format":{"type":"json_object"})")) == "response_format"
    );
    BOOST_TEST(refused_param(with(R"("seed":7)")) == "seed");
    BOOST_TEST(refused_param(with(R"("n":2)")) == "n");
    BOOST_TEST(refused_param(with(R"("logprobs":true)")) == "logprobs");
    BOOST_TEST(refused_param(with(R"("top_logprobs":2)")) == "top_logprobs");
    BOOST_TEST(refused_param(with(R"("logit_bias":{"50256":-100})")) == "logit_bias");
    BOOST_TEST(refused_param(with(R"("reasoning_effort":"low")")) == "reasoning_effort");
    BOOST_TEST(refused_param(with(R"("modalities":["text"])")) == "modalities");
    BOOST_TEST(refused_param(with(R"("audio":{"voice":"alloy"})")) == "audio");
    BOOST_TEST(refused_param(with(R"("frequency_penalty":0.5)")) == "frequency_penalty");
    BOOST_TEST(refused_param(with(R"("presence_penalty":-1)")) == "presence_penalty");
    BOOST_TEST(refused_param(with(R"("some_future_field":true)")) == "some_future_field");
    const auto err = refused(with(R"("seed":7)"));
    BOOST_TEST(err.message == "seed has no equivalent in the Anthropic Messages API");
}

// ---- the streamed answer ----

const completion_meta meta{"chatcmpl-1", 1700000000, "claude-\"x"};
constexpr std::string_view envelope =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"claude-\"x")";

/// The chunk of `delta` (JSON) with a null finish reason, parsed.
json::value chunk_of(std::string_view delta)
{
    return json::parse(
        std::string(envelope) + R"(,"choices":[{"index":0,"delta":)" + std::string(delta) +
        R"(,"finish_reason":null}]})"
    );
}

json::value finish_chunk_of(std::string_view reason)
{
    return json::parse(
        std::string(envelope) + R"(,"choices":[{"index":0,"delta":{},"finish_reason":")" +
        std::string(reason) + R"("}]})"
    );
}

/// Feeds events and collects their chunks, each parsed.
struct stream_fixture
{
    anthropic_stream_translator translator{meta};
    std::vector<std::string> chunks;

    /// Feeds one event named by its data's type (no `event:` line); returns its chunks.
    std::vector<json::value> feed(std::string_view data, std::string_view event = "message")
    {
        chunks.clear();
        const bool ok = translator.feed(event, data, chunks);
        BOOST_TEST_REQUIRE(ok, "feed failed: " << translator.why());
        std::vector<json::value> parsed;
        for (const auto& c : chunks)
            parsed.push_back(json::parse(c));
        return parsed;
    }

    bool rejects(std::string_view data, std::string_view event = "message")
    {
        chunks.clear();
        const bool ok = translator.feed(event, data, chunks);
        return !ok && !translator.why().empty() && chunks.empty();
    }
};

constexpr std::string_view message_start =
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
    R"("content":[],"model":"claude-x","stop_reason":null,"stop_sequence":null,)"
    R"("usage":{"input_tokens":25,"output_tokens":1}}})";

BOOST_AUTO_TEST_CASE(text_stream)
{
    stream_fixture f;
    auto out = f.feed(message_start, "message_start");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"role":"assistant","content":""})"));
    BOOST_TEST(
        f.feed(
             R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
        )
            .empty()
    );
    BOOST_TEST(f.feed(R"({"type":"ping"})", "ping").empty());
    out = f.feed(
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})",
        "content_block_delta"
    );
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"content":"Hel"})"));
    out = f.feed(
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo \"w\"\n"}})"
    );
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"content":"lo \"w\"\n"})"));
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":0})").empty());
    BOOST_TEST(f.translator.finish_reason().empty());
    out = f.feed(
        R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
        R"("usage":{"output_tokens":15}})",
        "message_delta"
    );
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == finish_chunk_of("stop"));
    BOOST_TEST(f.translator.finish_reason() == "stop");
    BOOST_TEST(!f.translator.done());
    out = f.feed(R"({"type":"message_stop"})", "message_stop");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(
        out[0] == json::parse(
                      std::string(envelope) +
                      R"(,"choices":[],"usage":{"prompt_tokens":25,"completion_tokens":15,)"
                      R"("total_tokens":40}})"
                  )
    );
    BOOST_TEST(f.translator.done());
    BOOST_TEST((f.translator.usage() == token_usage{25, 15}));
    BOOST_TEST(f.translator.error_message().empty());
}

BOOST_AUTO_TEST_CASE(chunk_text_is_exact)
{
    stream_fixture f;
    f.feed(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}})");
    BOOST_TEST_REQUIRE(f.chunks.size() == 1u);
    BOOST_TEST(
        f.chunks[0] ==
        std::string(envelope) +
            R"(,"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]})"
    );
}

BOOST_AUTO_TEST_CASE(thinking_stream)
{
    stream_fixture f;
    f.feed(message_start);
    BOOST_TEST(f.feed(R"({"type":"content_block_start","index":0,)"
                      R"("content_block":{"type":"thinking","thinking":"","signature":""}})")
                   .empty());
    auto out = f.feed(R"({"type":"content_block_delta","index":0,)"
                      R"("delta":{"type":"thinking_delta","thinking":"Let me think."}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"reasoning_content":"Let me think."})"));
    BOOST_TEST(f.feed(R"({"type":"content_block_delta","index":0,)"
                      R"("delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}})")
                   .empty());
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":0})").empty());
    BOOST_TEST(f.feed(R"({"type":"content_block_start","index":1,)"
                      R"("content_block":{"type":"redacted_thinking","data":"EmwKAhgB"}})")
                   .empty());
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":1})").empty());
    out = f.feed(
        R"({"type":"content_block_start","index":2,"content_block":{"type":"text","text":"Hi"}})"
    );
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"content":"Hi"})"));
}

BOOST_AUTO_TEST_CASE(tool_use_blocks_around_text_count_from_zero)
{
    stream_fixture f;
    f.feed(message_start);
    auto out =
        f.feed(R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use",)"
               R"("id":"toolu_A","name":"get_weather","input":{}}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(
        out[0] == chunk_of(R"({"tool_calls":[{"index":0,"id":"toolu_A","type":"function",)"
                           R"("function":{"name":"get_weather","arguments":""}}]})")
    );
    out = f.feed(R"({"type":"content_block_delta","index":0,)"
                 R"("delta":{"type":"input_json_delta","partial_json":""}})");
    BOOST_TEST(out.empty());
    out = f.feed(R"({"type":"content_block_delta","index":0,)"
                 R"("delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(
        out[0] ==
        chunk_of(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Pa"}}]})")
    );
    f.feed(R"({"type":"content_block_delta","index":0,)"
           R"("delta":{"type":"input_json_delta","partial_json":"ris\"}"}})");
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":0})").empty());

    f.feed(R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})");
    out = f.feed(
        R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"and"}})"
    );
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"content":"and"})"));
    f.feed(R"({"type":"content_block_stop","index":1})");

    out = f.feed(R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use",)"
                 R"("id":"toolu_B","name":"get_time","input":{}}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(
        out[0] == chunk_of(R"({"tool_calls":[{"index":1,"id":"toolu_B","type":"function",)"
                           R"("function":{"name":"get_time","arguments":""}}]})")
    );
    out = f.feed(R"({"type":"content_block_delta","index":2,)"
                 R"("delta":{"type":"input_json_delta","partial_json":"{\"tz\":\"CET\"}"}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(
        out[0] ==
        chunk_of(R"({"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\":\"CET\"}"}}]})")
    );
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":2})").empty());
    out = f.feed(
        R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}})"
    );
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == finish_chunk_of("tool_calls"));
    BOOST_TEST(f.translator.finish_reason() == "tool_calls");
}

BOOST_AUTO_TEST_CASE(tool_call_without_streamed_input_gets_its_start_input)
{
    stream_fixture f;
    f.feed(message_start);
    f.feed(R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use",)"
           R"("id":"toolu_A","name":"now","input":{}}})");
    auto out = f.feed(R"({"type":"content_block_stop","index":0})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]})"));
    // Once only.
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":0})").empty());
}

BOOST_AUTO_TEST_CASE(a_new_message_counts_tool_calls_afresh)
{
    stream_fixture f;
    f.feed(message_start);
    f.feed(R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use",)"
           R"("id":"a","name":"f","input":{}}})");
    f.feed(message_start);
    auto out =
        f.feed(R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use",)"
               R"("id":"b","name":"g","input":{}}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].at("choices").at(0).at("delta").at("tool_calls").at(0).at("index") == 0);
}

BOOST_AUTO_TEST_CASE(usage_counts_cache_tokens_as_prompt_tokens)
{
    stream_fixture f;
    BOOST_TEST(!f.translator.usage());
    f.feed(R"({"type":"message_start","message":{"usage":{"input_tokens":10,)"
           R"("cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":1}}})");
    BOOST_TEST((f.translator.usage() == token_usage{35, 1}));
    // message_delta's counts are cumulative, its input counts included when it has them.
    f.feed(R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},)"
           R"("usage":{"output_tokens":7,"cache_read_input_tokens":null}})");
    BOOST_TEST((f.translator.usage() == token_usage{35, 7}));
    BOOST_TEST(f.translator.finish_reason() == "length");
    f.feed(R"({"type":"message_delta","delta":{},"usage":{"input_tokens":12,"output_tokens":9}})");
    BOOST_TEST((f.translator.usage() == token_usage{37, 9}));
    auto out = f.feed(R"({"type":"message_stop"})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(
        out[0].at("usage") ==
        json::parse(R"({"prompt_tokens":37,"completion_tokens":9,"total_tokens":46})")
    );
    BOOST_TEST(out[0].at("choices").as_array().empty());
}

BOOST_AUTO_TEST_CASE(message_stop_without_usage_has_no_usage_chunk)
{
    stream_fixture f;
    BOOST_TEST(f.feed(R"({"type":"message_stop"})").empty());
    BOOST_TEST(f.translator.done());
    BOOST_TEST(!f.translator.usage());
}

BOOST_AUTO_TEST_CASE(stop_reasons_map)
{
    BOOST_TEST(openai_finish_reason("end_turn") == "stop");
    BOOST_TEST(openai_finish_reason("stop_sequence") == "stop");
    BOOST_TEST(openai_finish_reason("pause_turn") == "stop");
    BOOST_TEST(openai_finish_reason("max_tokens") == "length");
    BOOST_TEST(openai_finish_reason("model_context_window_exceeded") == "length");
    BOOST_TEST(openai_finish_reason("tool_use") == "tool_calls");
    BOOST_TEST(openai_finish_reason("refusal") == "content_filter");
    BOOST_TEST(openai_finish_reason("something_new") == "something_new");

    stream_fixture f;
    auto out = f.feed(R"({"type":"message_delta","delta":{"stop_reason":"refusal"}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == finish_chunk_of("content_filter"));
    out = f.feed(R"({"type":"message_delta","delta":{"stop_reason":"something_new"}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == finish_chunk_of("something_new"));
    BOOST_TEST(f.feed(R"({"type":"message_delta","delta":{"stop_reason":null}})").empty());
}

BOOST_AUTO_TEST_CASE(event_name_or_data_type_decides)
{
    stream_fixture f;
    // The `event:` name wins over the data's type; "" and "message" defer to the data.
    BOOST_TEST(f.feed(R"({"type":"content_block_delta"})", "ping").empty());
    auto out = f.feed(R"({"type":"message_start","message":{}})", "");
    BOOST_TEST(out.size() == 1u);
    out = f.feed(R"({"delta":{"type":"text_delta","text":"x"},"index":0})", "content_block_delta");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0] == chunk_of(R"({"content":"x"})"));
}

BOOST_AUTO_TEST_CASE(unknown_events_and_blocks_are_ignored)
{
    stream_fixture f;
    f.feed(message_start);
    BOOST_TEST(f.feed(R"({"type":"content_block_surprise","index":0})").empty());
    BOOST_TEST(f.feed(R"({"foo":1})").empty());
    BOOST_TEST(f.feed(R"({"type":"future_event"})", "future_event").empty());
    BOOST_TEST(
        f.feed(
             R"({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use",)"
             R"("id":"srvtoolu_1","name":"web_search","input":{}}})"
        )
            .empty()
    );
    BOOST_TEST(f.feed(R"({"type":"content_block_delta","index":0,)"
                      R"("delta":{"type":"input_json_delta","partial_json":"{\"q\":1}"}})")
                   .empty());
    BOOST_TEST(f.feed(R"({"type":"content_block_stop","index":0})").empty());
    BOOST_TEST(
        f.feed(R"({"type":"content_block_delta","index":1,"delta":{"type":"citations_delta",)"
               R"("citation":{"type":"char_location"}}})")
            .empty()
    );
    // The next tool_use block is still the first tool call.
    auto out =
        f.feed(R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use",)"
               R"("id":"toolu_1","name":"f","input":{}}})");
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].at("choices").at(0).at("delta").at("tool_calls").at(0).at("index") == 0);
}

BOOST_AUTO_TEST_CASE(error_event_is_reported)
{
    stream_fixture f;
    f.feed(message_start);
    BOOST_TEST(
        f.feed(
             R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
             "error"
        )
            .empty()
    );
    BOOST_TEST(f.translator.error_message() == "overloaded_error: Overloaded");
    BOOST_TEST(f.translator.error_type() == "overloaded_error");
    BOOST_TEST(!f.translator.done());

    stream_fixture g;
    g.feed(R"({"type":"error","detail":"odd"})");
    BOOST_TEST(!g.translator.error_message().empty());
    BOOST_TEST(g.translator.error_type().empty());
}

BOOST_AUTO_TEST_CASE(malformed_events_are_rejected)
{
    stream_fixture f;
    BOOST_TEST(f.rejects("not json"));
    BOOST_TEST(f.rejects(R"([1,2])"));
    BOOST_TEST(f.rejects(R"("text")"));
    BOOST_TEST(f.rejects(R"({"type":7})"));
    BOOST_TEST(f.rejects(R"({"type":"message_start"})"));
    BOOST_TEST(f.rejects(R"({"type":"message_start","message":{"usage":[]}})"));
    BOOST_TEST(f.rejects(R"({"type":"message_start","message":{"usage":{"input_tokens":"9"}}})"));
    BOOST_TEST(f.rejects(R"({"type":"message_start","message":{"usage":{"input_tokens":-1}}})"));
    BOOST_TEST(f.rejects(R"({"type":"content_block_start","index":0})"));
    BOOST_TEST(
        f.rejects(R"({"type":"content_block_start","index":"0","content_block":{"type":"tool_use",)"
                  R"("id":"a","name":"f","input":{}}})")
    );
    BOOST_TEST(f.rejects(
        R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"a"}})"
    ));
    BOOST_TEST(f.rejects(
        R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":5}})"
    ));
    BOOST_TEST(f.rejects(R"({"type":"content_block_delta","index":0})"));
    BOOST_TEST(f.rejects(R"({"type":"content_block_delta","index":0,"delta":{"text":"x"}})"));
    BOOST_TEST(f.rejects(
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":1}})"
    ));
    BOOST_TEST(
        f.rejects(R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta"}})")
    );
    BOOST_TEST(f.rejects(R"({"type":"content_block_delta","index":null,)"
                         R"("delta":{"type":"input_json_delta","partial_json":"{"}})"));
    BOOST_TEST(f.rejects(R"({"type":"content_block_stop","index":"x"})"));
    BOOST_TEST(f.rejects(R"({"type":"message_delta","delta":"end_turn"})"));
    BOOST_TEST(f.rejects(R"({"type":"message_delta","delta":{"stop_reason":3}})"));
    BOOST_TEST(f.rejects(R"({"type":"message_delta","delta":{},"usage":{"output_tokens":1.5}})"));
    // A rejected event leaves the translator usable.
    BOOST_TEST(f.feed(R"({"type":"ping"})").empty());
    BOOST_TEST(f.translator.why().empty());
}

// ---- the whole answer ----

json::value completion(std::string_view anthropic)
{
    auto result = openai_completion_from_anthropic(anthropic, meta);
    if (const auto* err = std::get_if<translation_error>(&result))
        BOOST_FAIL("refused: " << err->message);
    return json::parse(std::get<std::string>(result));
}

BOOST_AUTO_TEST_CASE(whole_answer_with_text_thinking_and_tools)
{
    const auto out = completion(
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[)"
        R"({"type":"thinking","thinking":"Hmm. ","signature":"sig"},)"
        R"({"type":"redacted_thinking","data":"xx"},)"
        R"({"type":"thinking","thinking":"Weather."},)"
        R"({"type":"text","text":"Let me "},{"type":"text","text":"check."},)"
        R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","n":2}},)"
        R"({"type":"tool_use","id":"toolu_2","name":"now","input":{}}],)"
        R"("stop_reason":"tool_use","stop_sequence":null,)"
        R"("usage":{"input_tokens":10,"cache_creation_input_tokens":3,)"
        R"("cache_read_input_tokens":4,"output_tokens":20}})"
    );
    BOOST_TEST(
        out ==
        json::parse(
            R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,)"
            R"("model":"claude-\"x","choices":[{"index":0,"message":{"role":"assistant",)"
            R"("content":"Let me check.","reasoning_content":"Hmm. Weather.",)"
            R"("tool_calls":[{"id":"toolu_1","type":"function","function":)"
            R"({"name":"get_weather","arguments":"{\"city\":\"Paris\",\"n\":2}"}},)"
            R"({"id":"toolu_2","type":"function","function":{"name":"now","arguments":"{}"}}]},)"
            R"("logprobs":null,"finish_reason":"tool_calls"}],)"
            R"("usage":{"prompt_tokens":17,"completion_tokens":20,"total_tokens":37}})"
        )
    );
}

BOOST_AUTO_TEST_CASE(whole_answer_without_text_has_null_content)
{
    const auto out = completion(
        R"({"type":"message","content":[{"type":"tool_use","id":"t","name":"f","input":{}}],)"
        R"("stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})"
    );
    const auto& message = out.at("choices").at(0).at("message");
    BOOST_TEST(message.at("content").is_null());
    BOOST_TEST(!message.as_object().contains("reasoning_content"));
}

BOOST_AUTO_TEST_CASE(whole_answer_text_only)
{
    const auto out = completion(
        R"({"type":"message","content":[{"type":"text","text":"Hi"}],"stop_reason":"max_tokens",)"
        R"("usage":{"input_tokens":1,"output_tokens":2}})"
    );
    BOOST_TEST(
        out.at("choices").at(0) ==
        json::parse(R"({"index":0,"message":{"role":"assistant","content":"Hi"},"logprobs":null,)"
                    R"("finish_reason":"length"})")
    );
    BOOST_TEST(
        out.at("usage") ==
        json::parse(R"({"prompt_tokens":1,"completion_tokens":2,"total_tokens":3})")
    );
}

BOOST_AUTO_TEST_CASE(whole_answer_errors)
{
    auto result = openai_completion_from_anthropic(
        R"({"type":"error","error":{"type":"invalid_request_error","message":"bad model"}})", meta
    );
    BOOST_TEST_REQUIRE(std::holds_alternative<translation_error>(result));
    BOOST_TEST(
        std::get<translation_error>(result).message.find("invalid_request_error: bad model") !=
        std::string::npos
    );
    BOOST_TEST(std::get<translation_error>(result).param.empty());
    for (const auto* bad :
         {"not json",
          "[1]",
          R"({"type":"completion"})",
          R"({"type":"message"})",
          R"({"type":"message","content":[{"type":"text"}]})",
          R"({"type":"message","content":[],"stop_reason":1})",
          R"({"type":"message","content":[],"usage":{"input_tokens":"1"}})"}) {
        BOOST_TEST(
            std::holds_alternative<translation_error>(openai_completion_from_anthropic(bad, meta)),
            bad
        );
    }
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::protocol
