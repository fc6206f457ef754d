#include <tokenrelay/upstream/request_body.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

namespace tokenrelay::upstream {

BOOST_AUTO_TEST_SUITE(request_body)

BOOST_AUTO_TEST_CASE(minimal_request)
{
    chat_request r;
    r.model = "deepseek-v3.2";
    r.messages = {{"user", "Hi"}};
    BOOST_TEST(
        build_request_body(r) ==
        R"({"model":"deepseek-v3.2","messages":[{"role":"user","content":"Hi"}],"stream":true,)"
        R"("stream_options":{"include_usage":true}})"
    );
}

BOOST_AUTO_TEST_CASE(history_options_and_escaping)
{
    chat_request r;
    r.model = "m";
    r.messages = {
        {"system", "Be \"brief\"."},
        {"user", "line1\nline2\t\\ é"},
        {"assistant", ""},
        {"user", std::string("nul\0x", 5)},
    };
    r.temperature = 0.7;
    r.max_tokens = 256;
    BOOST_TEST(
        build_request_body(r) ==
        R"({"model":"m","messages":[{"role":"system","content":"Be \"brief\"."},)"
        R"({"role":"user","content":"line1\nline2\t\\ é"},{"role":"assistant","content":""},)"
        R"({"role":"user","content":"nul\u0000x"}],"stream":true,)"
        R"("stream_options":{"include_usage":true},"temperature":0.7,"max_tokens":256})"
    );
}

BOOST_AUTO_TEST_CASE(temperature_forms)
{
    chat_request r;
    r.model = "m";
    for (const auto& [value, text] : std::vector<std::pair<double, std::string>>{
             {0.0, "0"}, {1.0, "1"}, {2.0, "2"}, {0.25, "0.25"}, {1.3, "1.3"}}) {
        r.temperature = value;
        const auto body = build_request_body(r);
        BOOST_TEST_CONTEXT(text)
        {
            BOOST_TEST(body.find(R"("temperature":)" + text + "}") != std::string::npos);
            // Whatever the spelling, it reads back as the same number.
            BOOST_TEST(boost::json::parse(body).at("temperature").to_number<double>() == value);
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_messages_and_non_finite_temperature)
{
    chat_request r;
    r.model = "m";
    r.temperature = std::numeric_limits<double>::quiet_NaN();
    BOOST_TEST(
        build_request_body(r) ==
        R"({"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}})"
    );
}

BOOST_AUTO_TEST_CASE(anthropic_minimal_request_gets_the_default_max_tokens)
{
    chat_request r;
    r.model = "claude-sonnet-4-5";
    r.messages = {{"user", "Hi"}};
    BOOST_TEST(
        build_anthropic_request_body(r) ==
        R"({"model":"claude-sonnet-4-5","max_tokens":4096,"stream":true,)"
        R"("messages":[{"role":"user","content":"Hi"}]})"
    );
}

BOOST_AUTO_TEST_CASE(anthropic_system_turns_move_to_the_top_level)
{
    chat_request r;
    r.model = "m";
    r.messages = {
        {"system", "Be \"brief\"."},
        {"user", "line1\nline2\t\\ é"},
        {"system", "Use English."},
        {"assistant", ""},
        {"user", std::string("nul\0x", 5)},
    };
    r.temperature = 0.7;
    r.max_tokens = 256;
    BOOST_TEST(
        build_anthropic_request_body(r) ==
        R"({"model":"m","max_tokens":256,"stream":true,)"
        R"("system":"Be \"brief\".\n\nUse English.",)"
        R"("messages":[{"role":"user","content":"line1\nline2\t\\ é"},)"
        R"({"role":"assistant","content":""},{"role":"user","content":"nul\u0000x"}],)"
        R"("temperature":0.7})"
    );
    // It is JSON, and reads back as what was meant.
    const auto v = boost::json::parse(build_anthropic_request_body(r));
    BOOST_TEST(v.at("system").as_string() == "Be \"brief\".\n\nUse English.");
    BOOST_TEST(v.at("messages").as_array().size() == 3u);
}

BOOST_AUTO_TEST_CASE(anthropic_empty_system_turn_still_counts_and_nan_is_left_out)
{
    chat_request r;
    r.model = "m";
    r.messages = {{"system", ""}};
    r.temperature = std::numeric_limits<double>::infinity();
    BOOST_TEST(
        build_anthropic_request_body(r) ==
        R"({"model":"m","max_tokens":4096,"stream":true,"system":"","messages":[]})"
    );
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
