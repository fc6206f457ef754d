#include <tokenrelay/store/resp.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace tokenrelay::store;
using namespace std::string_view_literals;
using namespace std::string_literals;

namespace {

// One of every kind of RESP2 reply, nested, empty and binary ones included.
const std::string all_kinds = "+OK\r\n"
                              "-ERR wrong type\r\n"
                              ":-42\r\n"
                              "$7\r\na\r\nb\0c\n\r\n"
                              "$0\r\n\r\n"
                              "$-1\r\n"
                              "*-1\r\n"
                              "*0\r\n"
                              "*2\r\n*2\r\n$3\r\n7-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n:1\r\n"s;

void check_all_kinds(const std::vector<resp_value>& got)
{
    BOOST_REQUIRE_EQUAL(got.size(), 9u);
    BOOST_TEST(got[0].is_status("OK"));
    BOOST_TEST(got[1].is_error());
    BOOST_TEST(got[1].text == "ERR wrong type");
    BOOST_TEST((got[2].type == resp_value::kind::integer));
    BOOST_TEST(got[2].integer == -42);
    BOOST_TEST((got[3].type == resp_value::kind::string));
    BOOST_TEST(got[3].text == "a\r\nb\0c\n"sv);
    BOOST_TEST((got[4].type == resp_value::kind::string));
    BOOST_TEST(got[4].text.empty());
    BOOST_TEST(got[5].is_nil());
    BOOST_TEST(got[6].is_nil());
    BOOST_TEST((got[7].type == resp_value::kind::array));
    BOOST_TEST(got[7].elements.empty());
    const auto& nested = got[8];
    BOOST_REQUIRE(nested.type == resp_value::kind::array);
    BOOST_REQUIRE_EQUAL(nested.elements.size(), 2u);
    const auto& entry = nested.elements[0];
    BOOST_REQUIRE_EQUAL(entry.elements.size(), 2u);
    BOOST_TEST(entry.elements[0].text == "7-0");
    BOOST_REQUIRE_EQUAL(entry.elements[1].elements.size(), 2u);
    BOOST_TEST(entry.elements[1].elements[0].text == "f");
    BOOST_TEST(entry.elements[1].elements[1].text == "v");
    BOOST_TEST(nested.elements[1].integer == 1);
}

std::vector<resp_value> drain(reply_reader& r)
{
    std::vector<resp_value> out;
    while (auto v = r.next())
        out.push_back(std::move(*v));
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(resp)

BOOST_AUTO_TEST_CASE(command_is_binary_safe)
{
    std::string out;
    append_command(out, {"SET", "k", "a\0b\r\n"sv});
    BOOST_TEST(out == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n"sv);
    append_command(out, {"GET", ""});
    BOOST_TEST(out.ends_with("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"));
}

BOOST_AUTO_TEST_CASE(command_with_many_arguments)
{
    std::vector<std::string> storage;
    for (int i = 0; i < 40; ++i)
        storage.push_back("f" + std::to_string(i));
    std::vector<std::string_view> args{"HSET", "h"};
    for (const auto& s : storage)
        args.push_back(s);
    std::string out;
    append_command(out, args);
    BOOST_TEST(out.starts_with("*42\r\n$4\r\nHSET\r\n$1\r\nh\r\n$2\r\nf0\r\n"));
    BOOST_TEST(out.ends_with("$3\r\nf39\r\n"));
}

BOOST_AUTO_TEST_CASE(every_kind_whole)
{
    reply_reader r;
    r.feed(all_kinds);
    check_all_kinds(drain(r));
    BOOST_TEST(!r.next());
}

BOOST_AUTO_TEST_CASE(every_split_point)
{
    for (std::size_t cut = 0; cut <= all_kinds.size(); ++cut) {
        BOOST_TEST_CONTEXT("cut at " << cut)
        {
            reply_reader r;
            r.feed(std::string_view(all_kinds).substr(0, cut));
            auto got = drain(r);
            r.feed(std::string_view(all_kinds).substr(cut));
            for (auto& v : drain(r))
                got.push_back(std::move(v));
            check_all_kinds(got);
        }
    }
}

BOOST_AUTO_TEST_CASE(byte_by_byte)
{
    reply_reader r;
    std::vector<resp_value> got;
    for (char c : all_kinds) {
        r.feed(std::string_view(&c, 1));
        for (auto& v : drain(r))
            got.push_back(std::move(v));
    }
    check_all_kinds(got);
}

BOOST_AUTO_TEST_CASE(not_resp_is_an_error_and_reset_recovers)
{
    reply_reader r;
    r.feed("?what\r\n");
    BOOST_CHECK_THROW(r.next(), resp_protocol_error);
    r.reset();
    r.feed(":5\r\n");
    auto v = r.next();
    BOOST_REQUIRE(v);
    BOOST_TEST(v->integer == 5);
}

BOOST_AUTO_TEST_CASE(reset_drops_a_partial_reply)
{
    reply_reader r;
    r.feed("$10\r\nabc");
    BOOST_TEST(!r.next());
    r.reset();
    r.feed("+OK\r\n");
    auto v = r.next();
    BOOST_REQUIRE(v);
    BOOST_TEST(v->is_status("OK"));
}

BOOST_AUTO_TEST_SUITE_END()
