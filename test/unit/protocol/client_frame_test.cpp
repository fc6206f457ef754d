#include <tokenrelay/protocol/client_frame.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace tokenrelay::protocol {
namespace {

// Small limits so every boundary can be hit with short literals.
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

std::string repeat(std::string_view s, std::size_t n)
{
    std::string out;
    for (std::size_t i = 0; i < n; ++i)
        out += s;
    return out;
}

template <class T> T decode_as(std::string_view text, const frame_limits& limits = test_limits())
{
    auto r = decode_client_frame(text, limits);
    if (const auto* err = std::get_if<decode_error>(&r)) {
        BOOST_FAIL("unexpected error " << code_name(err->code) << ": " << err->message);
    }
    const auto& frame = std::get<client_frame>(r);
    BOOST_REQUIRE(std::holds_alternative<T>(frame));
    return std::get<T>(frame);
}

struct error_case
{
    std::string text;
    errc code;
    std::string message;
    std::string id;
};

const std::string id64 = repeat("i", 64);
const std::string id65 = repeat("i", 65);

std::vector<error_case> error_cases()
{
    const std::string content_msg = "content must be a non-empty string or array of parts";
    const std::string role_msg = "context[0].role must be one of system, user, assistant";
    const std::string id_msg = "id must be a string of at most 64 characters";
    const std::string temp_msg = "options.temperature must be a number from 0 to 2";
    const std::string max_tokens_msg = "options.max_tokens must be an integer from 1 to 100";
    const std::string model_msg = "options.model must be one of the allowed models";
    const std::string session_msg = "session must be a non-empty string of at most 128 characters";
    const std::string last_seq_msg = "last_seq must be an integer >= 0";
    const std::string type_msg = "type must be one of chat, cancel, ping, resume, history";
    const std::string not_json = "frame is not valid JSON";
    const std::string not_object = "frame must be a JSON object";
    const auto chat = [](std::string fields) {
        return R"({"type":"chat","id":"m1",)" + fields + "}";
    };
    const auto with_options = [&](std::string options) {
        return chat(R"("content":"x","options":)" + options);
    };

    return {
        // bad_json: not JSON, not an object, or outside Boost.JSON's default options.
        {"", errc::bad_json, not_json, ""},
        {"hello", errc::bad_json, not_json, ""},
        {R"({"type":"chat","id":"m1")", errc::bad_json, not_json, ""},
        {R"({"type":"ping"} {})", errc::bad_json, not_json, ""},
        {R"({"type":"ping",})", errc::bad_json, not_json, ""},
        {R"({"type":"ping"/*c*/})", errc::bad_json, not_json, ""},
        {"{\"type\":\"chat\",\"content\":\"\xff\"}", errc::bad_json, not_json, ""},
        {repeat("[", 40) + repeat("]", 40), errc::bad_json, not_json, ""},
        {"[1,2]", errc::bad_json, not_object, ""},
        {R"("chat")", errc::bad_json, not_object, ""},
        {"null", errc::bad_json, not_object, ""},
        {"42", errc::bad_json, not_object, ""},

        // unknown_type: missing, wrong type, unknown name (case-sensitive).
        {"{}", errc::unknown_type, type_msg, ""},
        {R"({"id":"m7","content":"x"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":1,"id":"m7"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":null,"id":"m7"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":["chat"],"id":"m7"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":"chats","id":"m7"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":"CHAT","id":"m7"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":"","id":"m7"})", errc::unknown_type, type_msg, "m7"},
        {R"({"type":"pong"})", errc::unknown_type, type_msg, ""},
        // An unreadable id is not echoed.
        {R"({"type":"x","id":7})", errc::unknown_type, type_msg, ""},
        {R"({"type":"x","id":")" + id65 + "\"}", errc::unknown_type, type_msg, ""},

        // chat.content
        {R"({"type":"chat","id":"m1"})", errc::bad_request, content_msg, "m1"},
        {chat(R"("content":"")"), errc::bad_request, content_msg, "m1"},
        {chat(R"("content":null)"), errc::bad_request, content_msg, "m1"},
        {chat(R"("content":5)"), errc::bad_request, content_msg, "m1"},
        {chat(R"("content":["hi"])"),
         errc::bad_request,
         "content[0] must be a text or image_url part",
         "m1"},
        {chat(R"("content":[])"), errc::bad_request, content_msg, "m1"},
        {chat(R"("content":[{"type":"image_url","image_url":{"url":"http://x/a.png"}}])"),
         errc::bad_request,
         "content[0].image_url.url must be a data:image/…;base64, or https: URL",
         "m1"},
        {chat(R"("content":[{"type":"text","text":1}])"),
         errc::bad_request,
         "content[0].text must be a string",
         "m1"},
        // 17 bytes; and 9 two-byte characters = 18 bytes: the limit is in bytes.
        {chat(R"("content":"12345678901234567")"),
         errc::bad_request,
         "content must be at most 16 bytes",
         "m1"},
        {chat("\"content\":\"" + repeat("\u00e9", 9) + "\""),
         errc::bad_request,
         "content must be at most 16 bytes",
         "m1"},

        // chat.context
        {chat(R"("content":"x","context":{})"),
         errc::bad_request,
         "context must be an array of {role, content}",
         "m1"},
        {chat(R"("content":"x","context":null)"),
         errc::bad_request,
         "context must be an array of {role, content}",
         "m1"},
        {chat(R"("content":"x","context":"user: a")"),
         errc::bad_request,
         "context must be an array of {role, content}",
         "m1"},
        {chat(R"("content":"x","context":[1])"),
         errc::bad_request,
         "context[0] must be an object",
         "m1"},
        {chat(R"("content":"x","context":[{"role":"user","content":"a"},"b"])"),
         errc::bad_request,
         "context[1] must be an object",
         "m1"},
        {chat(R"("content":"x","context":[{"content":"a"}])"), errc::bad_request, role_msg, "m1"},
        {chat(R"("content":"x","context":[{"role":"bot","content":"a"}])"),
         errc::bad_request,
         role_msg,
         "m1"},
        {chat(R"("content":"x","context":[{"role":"User","content":"a"}])"),
         errc::bad_request,
         role_msg,
         "m1"},
        {chat(R"("content":"x","context":[{"role":1,"content":"a"}])"),
         errc::bad_request,
         role_msg,
         "m1"},
        {chat(R"("content":"x","context":[{"role":"user"}])"),
         errc::bad_request,
         "context[0].content must be a string",
         "m1"},
        {chat(R"("content":"x","context":[{"role":"user","content":null}])"),
         errc::bad_request,
         "context[0].content must be a string",
         "m1"},
        {chat(
             R"("content":"x","context":[{"role":"user","content":"a"},{"role":"user","content":3}])"
         ),
         errc::bad_request,
         "context[1].content must be a string",
         "m1"},
        {chat(
             R"("content":"x","context":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"}])"
         ),
         errc::bad_request,
         "context must have at most 2 messages",
         "m1"},
        {chat(
             R"("content":"x","context":[{"role":"user","content":"1234"},{"role":"assistant","content":"56789"}])"
         ),
         errc::bad_request,
         "context must have at most 8 bytes of content",
         "m1"},

        // chat.id
        {R"({"type":"chat","content":"x","id":5})", errc::bad_request, id_msg, ""},
        {R"({"type":"chat","content":"x","id":null})", errc::bad_request, id_msg, ""},
        {R"({"type":"chat","content":"x","id":")" + id65 + "\"}", errc::bad_request, id_msg, ""},

        // chat.options
        {with_options("[]"), errc::bad_request, "options must be an object", "m1"},
        {with_options("\"m1\""), errc::bad_request, "options must be an object", "m1"},
        {with_options(R"({"model":"gpt-4"})"), errc::bad_request, model_msg, "m1"},
        {with_options(R"({"model":"M1"})"), errc::bad_request, model_msg, "m1"},
        {with_options(R"({"model":1})"), errc::bad_request, model_msg, "m1"},
        {with_options(R"({"temperature":-0.1})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"temperature":2.01})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"temperature":3})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"temperature":-1})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"temperature":"1"})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"temperature":true})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"temperature":null})"), errc::bad_request, temp_msg, "m1"},
        {with_options(R"({"max_tokens":0})"), errc::bad_request, max_tokens_msg, "m1"},
        {with_options(R"({"max_tokens":-1})"), errc::bad_request, max_tokens_msg, "m1"},
        {with_options(R"({"max_tokens":101})"), errc::bad_request, max_tokens_msg, "m1"},
        {with_options(R"({"max_tokens":5.0})"), errc::bad_request, max_tokens_msg, "m1"},
        {with_options(R"({"max_tokens":1e2})"), errc::bad_request, max_tokens_msg, "m1"},
        {with_options(R"({"max_tokens":"5"})"), errc::bad_request, max_tokens_msg, "m1"},
        {with_options(R"({"max_tokens":18446744073709551615})"),
         errc::bad_request,
         max_tokens_msg,
         "m1"},

        // cancel, ping, resume
        {R"({"type":"cancel","id":5})", errc::bad_request, id_msg, ""},
        {R"({"type":"cancel","id":")" + id65 + "\"}", errc::bad_request, id_msg, ""},
        {R"({"type":"ping","timestamp":"1700000000123","id":"p1"})",
         errc::bad_request,
         "timestamp must be a number",
         "p1"},
        {R"({"type":"ping","timestamp":null})",
         errc::bad_request,
         "timestamp must be a number",
         ""},
        {R"({"type":"resume","last_seq":0,"id":"r1"})", errc::bad_request, session_msg, "r1"},
        {R"({"type":"resume","session":"","last_seq":0})", errc::bad_request, session_msg, ""},
        {R"({"type":"resume","session":7,"last_seq":0})", errc::bad_request, session_msg, ""},
        {R"({"type":"resume","session":")" + repeat("s", 129) + R"(","last_seq":0})",
         errc::bad_request,
         session_msg,
         ""},
        {R"({"type":"resume","session":"abc"})", errc::bad_request, last_seq_msg, ""},
        {R"({"type":"resume","session":"abc","last_seq":-1})", errc::bad_request, last_seq_msg, ""},
        {R"({"type":"resume","session":"abc","last_seq":1.0})",
         errc::bad_request,
         last_seq_msg,
         ""},
        {R"({"type":"resume","session":"abc","last_seq":"3"})",
         errc::bad_request,
         last_seq_msg,
         ""},
        {R"({"type":"resume","session":"abc","last_seq":null})",
         errc::bad_request,
         last_seq_msg,
         ""},
    };
}

} // namespace

BOOST_AUTO_TEST_SUITE(client_frame_tests)

BOOST_AUTO_TEST_CASE(errors_have_exact_code_message_and_id)
{
    const auto limits = test_limits();
    for (const auto& tc : error_cases()) {
        BOOST_TEST_CONTEXT("frame: " << tc.text)
        {
            auto r = decode_client_frame(tc.text, limits);
            BOOST_REQUIRE(std::holds_alternative<decode_error>(r));
            const auto& err = std::get<decode_error>(r);
            BOOST_TEST(code_name(err.code) == code_name(tc.code));
            BOOST_TEST(err.message == tc.message);
            BOOST_TEST(err.id == tc.id);
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_allow_list_refuses_every_model)
{
    auto limits = test_limits();
    limits.allowed_models.clear();
    auto r = decode_client_frame(
        R"({"type":"chat","content":"x","id":"m1","options":{"model":"m1"}})", limits
    );
    BOOST_REQUIRE(std::holds_alternative<decode_error>(r));
    const auto& err = std::get<decode_error>(r);
    BOOST_TEST(code_name(err.code) == "bad_request");
    BOOST_TEST(err.message == "options.model must be one of the allowed models");
    BOOST_TEST(err.id == "m1");

    // Without options.model the same limits accept the chat.
    const auto f = decode_as<chat_frame>(R"({"type":"chat","content":"x"})", limits);
    BOOST_TEST(!f.options.model.has_value());
}

BOOST_AUTO_TEST_CASE(minimal_chat)
{
    const auto f = decode_as<chat_frame>(R"({"type":"chat","content":"hi"})");
    BOOST_TEST(f.content == "hi");
    BOOST_TEST(!f.context.has_value());
    BOOST_TEST(f.id == "");
    BOOST_TEST(!f.options.model.has_value());
    BOOST_TEST(!f.options.temperature.has_value());
    BOOST_TEST(!f.options.max_tokens.has_value());
}

BOOST_AUTO_TEST_CASE(tutorial_chat_frame)
{
    const auto f = decode_as<chat_frame>(
        R"({"type":"chat","content":"hi","context":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]})",
        frame_limits{}
    );
    BOOST_TEST(f.content == "hi");
    BOOST_REQUIRE(f.context.has_value());
    const std::vector<chat_turn> want{{"user", "a"}, {"assistant", "b"}};
    BOOST_TEST((*f.context == want));
    BOOST_TEST(f.id == "");
}

BOOST_AUTO_TEST_CASE(full_chat_with_unknown_fields)
{
    const auto f = decode_as<chat_frame>(
        R"({"extra":{"x":[1,2]},"type":"chat","id":"msg-1","content":"say \"hi\"\n","context":[{"role":"system","content":"be brief","name":"x"},{"role":"user","content":""}],"options":{"model":"m2","temperature":0.7,"max_tokens":100,"top_p":1}})"
    );
    BOOST_TEST(f.id == "msg-1");
    BOOST_TEST(f.content == "say \"hi\"\n");
    BOOST_REQUIRE(f.context.has_value());
    const std::vector<chat_turn> want{{"system", "be brief"}, {"user", ""}};
    BOOST_TEST((*f.context == want));
    BOOST_TEST(f.options.model.value() == "m2");
    BOOST_TEST(f.options.temperature.value() == 0.7);
    BOOST_TEST(f.options.max_tokens.value() == 100);
}

BOOST_AUTO_TEST_CASE(chat_boundaries_are_inclusive)
{
    // 16 bytes of content (8 two-byte characters), 2 context messages with 8 bytes.
    const std::string content = repeat("\u00e9", 8);
    const auto f = decode_as<chat_frame>(
        R"({"type":"chat","content":")" + content + R"(","id":")" + repeat("\u00e9", 64) +
        R"(","context":[{"role":"user","content":"1234"},{"role":"assistant","content":"5678"}],"options":{"temperature":2,"max_tokens":1}})"
    );
    BOOST_TEST(f.content == content);
    BOOST_TEST(f.id == repeat("\u00e9", 64)); // 64 characters, 128 bytes
    BOOST_TEST(f.context->size() == 2u);
    BOOST_TEST(f.options.temperature.value() == 2.0);
    BOOST_TEST(f.options.max_tokens.value() == 1);

    const auto g = decode_as<chat_frame>(
        R"({"type":"chat","content":"x","id":")" + id64 +
        R"(","options":{"temperature":0,"max_tokens":100}})"
    );
    BOOST_TEST(g.id == id64);
    BOOST_TEST(g.options.temperature.value() == 0.0);
    BOOST_TEST(g.options.max_tokens.value() == 100);
}

BOOST_AUTO_TEST_CASE(empty_context_is_kept_as_given)
{
    // PROTOCOL.md section 4: a chat with context uses exactly that context, even none.
    const auto f = decode_as<chat_frame>(R"({"type":"chat","content":"x","context":[]})");
    BOOST_REQUIRE(f.context.has_value());
    BOOST_TEST(f.context->empty());
}

BOOST_AUTO_TEST_CASE(cancel_frames)
{
    BOOST_TEST(decode_as<cancel_frame>(R"({"type":"cancel"})").id == "");
    BOOST_TEST(decode_as<cancel_frame>(R"({"type":"cancel","id":"m1","x":1})").id == "m1");
}

BOOST_AUTO_TEST_CASE(ping_timestamp_kept_as_written)
{
    namespace json = boost::json;
    BOOST_TEST(decode_as<ping_frame>(R"({"type":"ping"})").timestamp == "");
    BOOST_TEST(
        decode_as<ping_frame>(R"({"type":"ping","timestamp":1700000000123})").timestamp ==
        "1700000000123"
    );
    BOOST_TEST(decode_as<ping_frame>(R"({"type":"ping","timestamp":-5})").timestamp == "-5");
    BOOST_TEST(
        decode_as<ping_frame>(R"({"type":"ping","timestamp":18446744073709551615})").timestamp ==
        "18446744073709551615"
    );
    const auto fractional = decode_as<ping_frame>(R"({"type":"ping","timestamp":1.5})").timestamp;
    BOOST_TEST(fractional == json::serialize(json::value(1.5)));
    BOOST_TEST(json::parse(fractional).as_double() == 1.5);
}

BOOST_AUTO_TEST_CASE(resume_frames)
{
    const auto a = decode_as<resume_frame>(R"({"type":"resume","session":"abc","last_seq":0})");
    BOOST_TEST(a.session == "abc");
    BOOST_TEST(a.last_seq == 0u);

    const std::string long_session = repeat("s", 128);
    const auto b = decode_as<resume_frame>(
        R"({"type":"resume","session":")" + long_session + R"(","last_seq":18446744073709551615})"
    );
    BOOST_TEST(b.session == long_session);
    BOOST_TEST(b.last_seq == 18446744073709551615u);

    const auto c = decode_as<resume_frame>(R"({"last_seq":42,"session":"xyz","type":"resume"})");
    BOOST_TEST(c.session == "xyz");
    BOOST_TEST(c.last_seq == 42u);
}

BOOST_AUTO_TEST_CASE(history_frames)
{
    decode_as<history_frame>(R"({"type":"history"})");
    decode_as<history_frame>(R"({"type":"history","id":"h1","last_seq":3})");
}

BOOST_AUTO_TEST_CASE(frame_larger_than_the_stack_arena)
{
    // The parse arena starts on the stack; a frame beyond it must still decode whole.
    auto limits = test_limits();
    limits.max_content_bytes = 65536;
    const std::string content = repeat("abcdefgh", 4096);
    const auto f = decode_as<chat_frame>(R"({"type":"chat","content":")" + content + "\"}", limits);
    BOOST_TEST(f.content == content);
}

BOOST_AUTO_TEST_CASE(a_chat_may_carry_images_as_content_parts)
{
    const std::string png = "data:image/png;base64,iVBORw0KGgo=";
    const auto f = decode_as<chat_frame>(
        R"({"type":"chat","content":[{"type":"text","text":"what is "},{"type":"text","text":"this?"},)"
        R"({"type":"image_url","image_url":{"url":")" +
        png + R"(","detail":"low","x":1}}]})"
    );
    BOOST_TEST(f.content == "what is this?");
    // Kept in a known shape: what is not a part's own is left out.
    BOOST_TEST(
        f.parts == R"([{"type":"text","text":"what is "},{"type":"text","text":"this?"},)"
                   R"({"type":"image_url","image_url":{"url":")" +
                       png + R"(","detail":"low"}}])"
    );
    BOOST_TEST(text_of_parts(f.parts) == "what is this?");
    // Text parts alone are plain text.
    const auto text =
        decode_as<chat_frame>(R"({"type":"chat","content":[{"type":"text","text":"a"}]})");
    BOOST_TEST(text.content == "a");
    BOOST_TEST(text.parts.empty());
}

BOOST_AUTO_TEST_CASE(images_have_their_own_limit_and_the_rest_keeps_the_frame_limit)
{
    frame_limits limits;
    limits.max_frame_bytes = 200;
    limits.max_content_bytes = 200;
    limits.max_image_bytes = 1000;
    const auto frame = [](std::size_t image, std::size_t text) {
        return R"({"type":"chat","content":[{"type":"text","text":")" + std::string(text, 't') +
               R"("},{"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
               std::string(image, 'A') + R"("}}]})";
    };
    const auto url_overhead = std::string_view("data:image/png;base64,").size();
    // The frame is far over 200 bytes: its image URL is what takes the room.
    const auto ok = decode_client_frame(frame(1000 - url_overhead, 10), limits);
    BOOST_TEST(std::holds_alternative<client_frame>(ok));
    // One more byte of image: refused, by an error frame.
    auto r = decode_client_frame(frame(1001 - url_overhead, 10), limits);
    BOOST_TEST_REQUIRE(std::holds_alternative<decode_error>(r));
    BOOST_TEST(!std::get<decode_error>(r).too_big);
    // The rest of the frame over 200 bytes: too big, the close code 1009.
    const auto rest = frame(0, 0).size() - url_overhead;
    r = decode_client_frame(frame(10, 200 - rest), limits);
    BOOST_TEST(std::holds_alternative<client_frame>(r));
    r = decode_client_frame(frame(10, 201 - rest), limits);
    BOOST_TEST_REQUIRE(std::holds_alternative<decode_error>(r));
    BOOST_TEST(std::get<decode_error>(r).too_big);
    // Any other frame over the limit is too big too, valid JSON or not.
    r = decode_client_frame(R"({"type":"ping","pad":")" + std::string(200, 'p') + "\"}", limits);
    BOOST_TEST(std::get<decode_error>(r).too_big);
    r = decode_client_frame(std::string(201, '['), limits);
    BOOST_TEST(std::get<decode_error>(r).too_big);
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::protocol
