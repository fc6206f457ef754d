#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <testing/loadgen/frames.hpp>
#include <vector>

namespace loadgen = tokenrelay::loadgen;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(loadgen_frames)

BOOST_AUTO_TEST_CASE(decodes_the_relay_frames)
{
    loadgen::frame_decoder d;
    loadgen::server_frame f;

    BOOST_REQUIRE(
        d.decode(R"({"type":"token","content":"w3 w4 ","timestamp":1,"seq":5,"id":"c1"})", f)
    );
    BOOST_TEST((f.type == loadgen::frame_type::token));
    BOOST_TEST(f.content == "w3 w4 ");
    BOOST_TEST(f.seq.value() == 5u);
    BOOST_TEST(f.id == "c1");

    BOOST_REQUIRE(d.decode(R"({"type":"user","id":"c1","content":"hi","timestamp":1,"seq":2})", f));
    BOOST_TEST((f.type == loadgen::frame_type::user));
    BOOST_TEST(f.seq.value() == 2u);
    BOOST_TEST(f.id == "c1");

    BOOST_REQUIRE(
        d.decode(R"({"type":"stream_end","id":"c1","seq":6,"reason":"stop","usage":{}})", f)
    );
    BOOST_TEST((f.type == loadgen::frame_type::stream_end));
    BOOST_TEST(f.reason == "stop");
    BOOST_TEST(f.seq.value() == 6u);

    BOOST_REQUIRE(d.decode(
        R"({"type":"session","session":"abc","resumed":true,"protocol":1,"last_seq":9,"first_seq":2})",
        f
    ));
    BOOST_TEST((f.type == loadgen::frame_type::session));
    BOOST_TEST(f.session == "abc");
    BOOST_TEST(f.resumed);
    BOOST_TEST(f.last_seq == 9u);
    BOOST_TEST(f.first_seq == 2u);

    BOOST_REQUIRE(d.decode(R"({"type":"error","code":"rate_limited","message":"x","id":"c2"})", f));
    BOOST_TEST((f.type == loadgen::frame_type::error));
    BOOST_TEST(f.code == "rate_limited");
    BOOST_TEST(f.id == "c2");

    // A tutorial relay: no seq.
    BOOST_REQUIRE(d.decode(R"({"type":"token","content":"w0 "})", f));
    BOOST_TEST(!f.seq.has_value());

    BOOST_REQUIRE(d.decode(R"({"type":"pong","timestamp":1})", f));
    BOOST_TEST((f.type == loadgen::frame_type::pong));
    BOOST_REQUIRE(d.decode(R"({"type":"something_new"})", f));
    BOOST_TEST((f.type == loadgen::frame_type::other));
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_frame)
{
    loadgen::frame_decoder d;
    loadgen::server_frame f;
    for (const char* text :
         {"", "{", "[]", "42", R"({"content":"x"})", R"({"type":7})", R"({"type":"token"} x)"})
        BOOST_TEST(!d.decode(text, f), text);
}

BOOST_AUTO_TEST_CASE(client_frames)
{
    BOOST_TEST(
        json::parse(loadgen::chat_frame("hi", "c1", false)) ==
        json::parse(R"({"type":"chat","content":"hi","id":"c1"})")
    );
    BOOST_TEST(
        json::parse(loadgen::chat_frame("hi", "c1", true)) ==
        json::parse(R"({"type":"chat","content":"hi","context":[]})")
    );
    BOOST_TEST(
        json::parse(loadgen::ping_frame(12)) == json::parse(R"({"type":"ping","timestamp":12})")
    );
    BOOST_TEST(
        loadgen::chat_content(50, 20, true) == "hello mock:tokens=50 mock:interval=20 mock:stamp"
    );
    BOOST_TEST(loadgen::chat_content(3, 0, false) == "hello mock:tokens=3 mock:interval=0");
    BOOST_TEST(
        json::parse(loadgen::completions_body("mock", "hi")) ==
        json::parse(R"({"model":"mock","stream":true,"messages":[{"role":"user","content":"hi"}]})")
    );
}

BOOST_AUTO_TEST_CASE(sse_lines_any_line_end_any_split)
{
    const std::string stream =
        "data: {\"a\":1}\n\n: comment\r\ndata:{\"b\":2}\r\n\r\nevent: x\rdata: [DONE]\r\r";
    const std::vector<std::string> expected{R"({"a":1})", R"({"b":2})", "[DONE]"};
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        BOOST_TEST_CONTEXT("cut at " << cut)
        {
            loadgen::sse_lines lines;
            std::vector<std::string> got;
            const auto take = [&](std::string_view d) { got.emplace_back(d); };
            lines.feed(std::string_view(stream).substr(0, cut), take);
            lines.feed(std::string_view(stream).substr(cut), take);
            BOOST_TEST(got == expected, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(sse_chunks)
{
    loadgen::sse_chunk_decoder d;
    BOOST_TEST(d.decode("[DONE]").done);
    BOOST_TEST(d.decode("{not json").error);
    BOOST_TEST(d.decode(R"({"error":{"message":"x"}})").error);
    const auto token =
        d.decode(R"({"choices":[{"index":0,"delta":{"content":"w1 "},"finish_reason":null}]})");
    BOOST_TEST(token.content == "w1 ");
    BOOST_TEST(!token.done);
    BOOST_TEST(!token.error);
    const auto finish = d.decode(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})");
    BOOST_TEST(finish.content.empty());
    BOOST_TEST(finish.finish_reason == "stop");
    const auto usage = d.decode(R"({"choices":[],"usage":{"prompt_tokens":1}})");
    BOOST_TEST(usage.content.empty());
    BOOST_TEST(!usage.error);
    BOOST_TEST(d.decode(R"({"choices":null})").content.empty());
}

BOOST_AUTO_TEST_SUITE_END()
