#include <tokenrelay/protocol/forwarded_body.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace tokenrelay::protocol {
namespace {

BOOST_AUTO_TEST_SUITE(forwarded_body_suite)

BOOST_AUTO_TEST_CASE(members_are_found_past_nested_values_and_escapes)
{
    const std::string body = " {\"a\" : {\"}\":[1,{\"x\":\"]\\\"\"}]} , "
                             "\"m\\u006fdel\":null,\"n\":-1.5e3,\"s\":\"\\\\\"}";
    const auto members = top_level_members(body);
    BOOST_TEST_REQUIRE(members.has_value());
    BOOST_TEST_REQUIRE(members->size() == 4u);
    const auto value = [&](std::size_t i) {
        const auto& m = (*members)[i];
        return body.substr(m.value_begin, m.value_end - m.value_begin);
    };
    BOOST_TEST((*members)[0].key == "a");
    BOOST_TEST(value(0) == "{\"}\":[1,{\"x\":\"]\\\"\"}]}");
    // An escaped key is compared unescaped: the upstream reads it so.
    BOOST_TEST((*members)[1].key == "model");
    BOOST_TEST(value(1) == "null");
    BOOST_TEST(value(2) == "-1.5e3");
    BOOST_TEST(value(3) == "\"\\\\\"");
    BOOST_TEST(!top_level_members("[1]").has_value());
    BOOST_TEST(top_level_members("{}")->empty());
}

BOOST_AUTO_TEST_CASE(edits_splice_into_the_original_bytes)
{
    const std::string body = "{\"b\": 1.0, \"c\" :[ 2 ]}";
    const auto members = *top_level_members(body);
    body_edits none;
    BOOST_TEST(none.apply(body) == body);
    body_edits edits;
    edits.replace(members[1], "3");
    edits.replace(members[0], "\"x\"");
    edits.prepend("a", "true");
    BOOST_TEST(edits.apply(body) == "{\"a\":true,\"b\": \"x\", \"c\" :3}");
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace
} // namespace tokenrelay::protocol
