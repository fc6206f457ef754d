#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <testing/mock/stats.hpp>

namespace mock = tokenrelay::mock;

BOOST_AUTO_TEST_SUITE(mock_stats)

BOOST_AUTO_TEST_CASE(fresh_stats_json)
{
    mock::stats s;
    BOOST_TEST(
        s.to_json() ==
        R"({"requests":0,"open":0,"completed":0,"aborted":0,"last_authorization":"","last_body":null})"
    );
}

BOOST_AUTO_TEST_CASE(counts_requests_and_responses)
{
    mock::stats s;
    BOOST_TEST(s.on_request("Bearer k1", boost::json::parse(R"({"a":1})")) == 1u);
    BOOST_TEST(s.on_request("Bearer k2", boost::json::parse(R"({"b":[2]})")) == 2u);
    auto t1 = s.start_response();
    auto t2 = s.start_response();
    BOOST_TEST(s.value(mock::counter::open) == 2);
    s.finish_response(t1, mock::stats::outcome::completed);
    s.finish_response(t1, mock::stats::outcome::aborted); // second finish is a no-op
    s.finish_response(t2, mock::stats::outcome::aborted);
    BOOST_TEST(
        s.to_json() ==
        R"({"requests":2,"open":0,"completed":1,"aborted":1,"last_authorization":"Bearer k2","last_body":{"b":[2]}})"
    );
}

BOOST_AUTO_TEST_CASE(reset_zeroes_counters_and_ignores_older_responses)
{
    mock::stats s;
    s.on_request("k", boost::json::parse("{}"));
    auto before = s.start_response();
    s.reset();
    BOOST_TEST(s.value(mock::counter::requests) == 0);
    BOOST_TEST(s.value(mock::counter::open) == 0);
    s.finish_response(before, mock::stats::outcome::aborted);
    BOOST_TEST(s.value(mock::counter::open) == 0);
    BOOST_TEST(s.value(mock::counter::aborted) == 0);
    auto after = s.start_response();
    s.finish_response(after, mock::stats::outcome::completed);
    BOOST_TEST(s.value(mock::counter::completed) == 1);
    BOOST_TEST(s.on_request("k", boost::json::parse("{}")) == 1u);
}

BOOST_AUTO_TEST_CASE(fail_first_counts_per_exact_content)
{
    mock::stats s;
    BOOST_TEST(s.should_fail("a mock:fail_first=2", 2));
    BOOST_TEST(s.should_fail("b mock:fail_first=2", 2));
    BOOST_TEST(s.should_fail("a mock:fail_first=2", 2));
    BOOST_TEST(!s.should_fail("a mock:fail_first=2", 2));
    BOOST_TEST(!s.should_fail("a mock:fail_first=2", 2));
    BOOST_TEST(!s.should_fail("c", 0));
    s.reset();
    BOOST_TEST(s.should_fail("a mock:fail_first=2", 2));
}

BOOST_AUTO_TEST_CASE(waiters_are_woken_on_every_change_until_removed)
{
    mock::stats s;
    int wakes = 0;
    auto h = s.add_waiter([&] { ++wakes; });
    s.on_request("", {});
    auto t = s.start_response();
    s.finish_response(t, mock::stats::outcome::completed);
    s.reset();
    BOOST_TEST(wakes == 4);
    s.remove_waiter(h);
    s.on_request("", {});
    BOOST_TEST(wakes == 4);
}

BOOST_AUTO_TEST_CASE(counter_names)
{
    BOOST_TEST((mock::counter_from_name("requests") == mock::counter::requests));
    BOOST_TEST((mock::counter_from_name("open") == mock::counter::open));
    BOOST_TEST((mock::counter_from_name("completed") == mock::counter::completed));
    BOOST_TEST((mock::counter_from_name("aborted") == mock::counter::aborted));
    BOOST_TEST(!mock::counter_from_name("Aborted"));
    BOOST_TEST(!mock::counter_from_name(""));
}

BOOST_AUTO_TEST_CASE(anthropic_headers_appear_once_recorded)
{
    mock::stats s;
    s.on_request("", boost::json::parse("{}"));
    s.on_anthropic_headers("sk-ant-1", "2023-06-01");
    BOOST_TEST(
        s.to_json() ==
        R"({"requests":1,"open":0,"completed":0,"aborted":0,"last_authorization":"","last_body":{},)"
        R"("last_api_key":"sk-ant-1","last_anthropic_version":"2023-06-01"})"
    );
}

BOOST_AUTO_TEST_CASE(the_raw_body_is_kept_apart_from_the_stats_json)
{
    mock::stats s;
    BOOST_TEST(!s.last_raw_body());
    const std::string raw = "{ \"messages\" : [ ],\n \"x\":10 }";
    s.on_request("k", boost::json::parse(raw));
    s.on_raw_body(raw);
    BOOST_TEST(s.last_raw_body().value() == raw);
    BOOST_TEST(
        s.to_json() ==
        R"({"requests":1,"open":0,"completed":0,"aborted":0,"last_authorization":"k","last_body":{"messages":[],"x":10}})"
    );
    s.reset();
    BOOST_TEST(s.last_raw_body().value() == raw);
    s.on_raw_body("not json");
    BOOST_TEST(s.last_raw_body().value() == "not json");
}

BOOST_AUTO_TEST_SUITE_END()
