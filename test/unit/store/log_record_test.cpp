#include <tokenrelay/store/log_record.hpp>

#include <boost/test/unit_test.hpp>

using namespace tokenrelay::store;

namespace {

resp_value str(std::string s)
{
    resp_value v;
    v.type = resp_value::kind::string;
    v.text = std::move(s);
    return v;
}

resp_value arr(std::vector<resp_value> e)
{
    resp_value v;
    v.type = resp_value::kind::array;
    v.elements = std::move(e);
    return v;
}

resp_value entry(std::string id, std::string k, std::string m, std::string d)
{
    return arr(
        {str(std::move(id)),
         arr({str("k"), str(std::move(k)), str("m"), str(std::move(m)), str("d"), str(std::move(d))}
         )}
    );
}

} // namespace

BOOST_AUTO_TEST_SUITE(log_record_suite)

BOOST_AUTO_TEST_CASE(append_is_an_xadd_with_the_seq_as_id)
{
    redis_request r;
    push_append(r, "tr:{h}:log", {7, record_kind::token, "m1", "hel\r\nlo"}, false);
    push_append(r, "tr:{h}:log", {8, record_kind::end, "m1", "{\"type\":\"stream_end\"}"}, true);
    BOOST_TEST(r.replies() == 2u);
    reply_reader decode; // the request is RESP too: decode it as a reader would
    decode.feed(r.bytes());
    auto first = decode.next();
    BOOST_REQUIRE(first);
    BOOST_REQUIRE_EQUAL(first->elements.size(), 9u);
    BOOST_TEST(first->elements[0].text == "XADD");
    BOOST_TEST(first->elements[2].text == "7-0");
    BOOST_TEST(first->elements[4].text == "t");
    BOOST_TEST(first->elements[8].text == "hel\r\nlo");
    auto second = decode.next();
    BOOST_REQUIRE(second);
    BOOST_TEST(second->elements[2].text == "8-1");
    BOOST_TEST(second->elements[4].text == "e");
}

BOOST_AUTO_TEST_CASE(records_from_an_xrange_reply)
{
    const auto reply = arr(
        {entry("3-0", "u", "m2", "hi"),
         entry("4-0", "t", "m2", "Hel"),
         entry("5-0", "x", "m2", "{err}"),
         entry("5-1", "e", "m2", "{end}"),
         entry("6-0", "r", "m3", "hm"),
         entry("7-0", "f", "m3", "No."),
         entry("8-0", "p", "m4", R"([{"type":"text","text":"see"}])")}
    );
    const auto got = parse_records(reply);
    BOOST_REQUIRE_EQUAL(got.size(), 7u);
    BOOST_TEST((got[6].kind == record_kind::user_parts));
    BOOST_TEST(got[6].data == R"([{"type":"text","text":"see"}])");
    BOOST_TEST((got[4].kind == record_kind::reasoning));
    BOOST_TEST((got[5].kind == record_kind::refusal));
    BOOST_TEST(got[5].data == "No.");
    BOOST_TEST(got[0].seq == 3u);
    BOOST_TEST((got[0].kind == record_kind::user));
    BOOST_TEST(got[0].message_id == "m2");
    BOOST_TEST(got[0].data == "hi");
    BOOST_TEST((got[2].kind == record_kind::error));
    BOOST_TEST(got[2].seq == 5u);
    BOOST_TEST((got[3].kind == record_kind::end));
    BOOST_TEST(got[3].seq == 5u);
    BOOST_TEST(parse_records(resp_value{}).empty()); // nil: nothing
}

BOOST_AUTO_TEST_CASE(entries_that_are_not_records_are_refused)
{
    BOOST_CHECK_THROW(parse_records(str("x")), std::invalid_argument);
    BOOST_CHECK_THROW(parse_records(arr({entry("x-0", "t", "m", "d")})), std::invalid_argument);
    BOOST_CHECK_THROW(parse_records(arr({entry("0-0", "t", "m", "d")})), std::invalid_argument);
    BOOST_CHECK_THROW(parse_records(arr({entry("1-0", "?", "m", "d")})), std::invalid_argument);
    BOOST_CHECK_THROW(parse_records(arr({arr({str("1-0")})})), std::invalid_argument);
    BOOST_CHECK_THROW(
        parse_records(arr({arr({str("1-0"), arr({str("m"), str("x")})})})), std::invalid_argument
    );
}

BOOST_AUTO_TEST_SUITE_END()
