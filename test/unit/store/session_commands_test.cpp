// The session's store commands against a real redis-server: what one instance writes,
// another reads back exactly.

#include "support/redis_server.hpp"
#include "support/run_coro.hpp"
#include "support/time_scale.hpp"
#include <tokenrelay/store/redis_connection.hpp>
#include <tokenrelay/store/session_commands.hpp>

#include <boost/test/unit_test.hpp>

using namespace tokenrelay;
using namespace tokenrelay::store;
using namespace std::chrono_literals;
using tokenrelay::test::redis_server;
using tokenrelay::test::run_coro;
using tokenrelay::test::scaled;

namespace {

struct fixture
{
    redis_server redis;
    net::io_context io;
    std::shared_ptr<redis_connection> conn;
    session_keys keys = keys_for("session-one");

    fixture()
    {
        redis_endpoint e;
        e.port = redis.port();
        conn = redis_connection::make(io.get_executor(), e);
        conn->start();
        const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
        while (!conn->up() && std::chrono::steady_clock::now() < deadline)
            io.run_one_until(deadline);
        BOOST_REQUIRE(conn->up());
    }
    ~fixture()
    {
        conn->stop();
        io.run_for(50ms);
    }

    std::vector<resp_value> exec(redis_request r)
    {
        auto task = [&]() -> awaitable<std::vector<resp_value>> {
            auto [ec, v] = co_await conn->async_exec(std::move(r), use_tuple);
            BOOST_REQUIRE(!ec);
            co_return v;
        };
        return run_coro(io, task(), scaled(5s));
    }
};

std::vector<log_record> first_turn()
{
    return {
        {1, record_kind::user, "m1", "hi"},
        {2, record_kind::token, "m1", "Hel"},
        {3, record_kind::token, "m1", "lo"},
        {4, record_kind::error, "m1", "{\"type\":\"error\"}"},
        {4, record_kind::end, "m1", "{\"type\":\"stream_end\"}"}};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(session_commands_suite, fixture)

BOOST_AUTO_TEST_CASE(a_missing_session_loads_as_missing)
{
    const auto got = parse_load(exec(load_request(keys, 0)));
    BOOST_TEST(!got.exists);
}

BOOST_AUTO_TEST_CASE(appended_records_load_back_exactly_after_any_seq)
{
    stored_meta meta;
    meta.next_message = 2;
    const auto records = first_turn();
    BOOST_TEST(append_succeeded(exec(append_request(keys, records, &meta, 60s))));
    BOOST_TEST(redis.cli({"PTTL", keys.log}) != "-1"); // it expires

    auto all = parse_load(exec(load_request(keys, 0)));
    BOOST_TEST(all.exists);
    BOOST_TEST(all.meta.next_message == 2u);
    BOOST_TEST(all.last_seq == 4u);
    BOOST_TEST(!all.leased);
    BOOST_REQUIRE_EQUAL(all.records.size(), records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        BOOST_TEST(all.records[i].seq == records[i].seq);
        BOOST_TEST((all.records[i].kind == records[i].kind));
        BOOST_TEST(all.records[i].data == records[i].data);
    }
    auto after2 = parse_load(exec(load_request(keys, 2)));
    BOOST_REQUIRE_EQUAL(after2.records.size(), 3u);
    BOOST_TEST(after2.records[0].seq == 3u);
    auto after3 = parse_records(exec(read_request(keys, 3)).at(0));
    BOOST_REQUIRE_EQUAL(after3.size(), 2u); // the error and the stream_end, both seq 4
    BOOST_TEST(parse_records(exec(read_request(keys, 4)).at(0)).empty());
}

BOOST_AUTO_TEST_CASE(an_append_renews_the_expiry_only_when_asked)
{
    const auto records = first_turn();
    const std::span<const log_record> first(records.data(), 2), rest(records.data() + 2, 3);
    const auto touched = exec(append_request(keys, first, nullptr, 60s));
    BOOST_TEST(append_succeeded(touched));
    BOOST_TEST(touched.size() == 2u + 1 + 3); // XADDs, PUBLISH, three PEXPIREs
    redis.cli({"PERSIST", keys.log});
    const auto plain = exec(append_request(keys, rest, nullptr, std::nullopt));
    BOOST_TEST(append_succeeded(plain));
    BOOST_TEST(plain.size() == 3u + 1); // XADDs and PUBLISH only
    BOOST_TEST(redis.cli({"PTTL", keys.log}) == "-1");
}

BOOST_AUTO_TEST_CASE(a_seq_is_never_stored_twice)
{
    const auto records = first_turn();
    BOOST_TEST(append_succeeded(exec(append_request(keys, records, nullptr, 60s))));
    // A second writer with the same seqs (a lost lease): Redis refuses it.
    const std::vector<log_record> again{{3, record_kind::token, "m1", "other"}};
    BOOST_TEST(!append_succeeded(exec(append_request(keys, again, nullptr, 60s))));
}

BOOST_AUTO_TEST_CASE(the_lease_is_exclusive_renewed_only_by_its_holder_and_given_back)
{
    BOOST_TEST(exec(take_lease_request(keys, "A", 5s)).at(0).is_status("OK"));
    BOOST_TEST(exec(take_lease_request(keys, "B", 5s)).at(0).is_nil());
    redis_request renew_a, renew_b;
    push_renew_lease(renew_a, keys, "A", 5s);
    push_renew_lease(renew_b, keys, "B", 5s);
    BOOST_TEST(exec(std::move(renew_a)).at(0).integer == 1);
    BOOST_TEST(exec(std::move(renew_b)).at(0).integer == 0);
}

BOOST_AUTO_TEST_CASE(the_end_of_a_turn_keeps_history_meta_and_frees_the_lease)
{
    exec(take_lease_request(keys, "A", 5s));
    exec(append_request(keys, first_turn(), nullptr, 60s));
    stored_meta meta;
    meta.next_message = 2;
    meta.through_seq = 4;
    meta.prompt_tokens = 10;
    meta.completion_tokens = 2;
    const std::vector<stored_turn> turns{
        {"user", "hi \"there\"", "m1"}, {"assistant", "Hello", "m1"}};
    exec(end_turn_request(keys, turns, 64, 0, meta, "A", 60s));
    auto got = parse_load(exec(load_request(keys, 4)));
    BOOST_TEST(got.exists);
    BOOST_TEST(!got.leased);
    BOOST_TEST(got.meta.through_seq == 4u);
    BOOST_TEST(got.meta.prompt_tokens == 10);
    BOOST_REQUIRE_EQUAL(got.history.size(), 2u);
    BOOST_TEST(got.history[0].content == "hi \"there\"");
    BOOST_TEST(got.history[1].role == "assistant");
    BOOST_TEST(got.records.empty());

    // Another instance's lease is left alone; the history stays within its bound.
    exec(take_lease_request(keys, "B", 5s));
    exec(end_turn_request(keys, turns, 3, 3, meta, "A", 60s));
    got = parse_load(exec(load_request(keys, 4)));
    BOOST_TEST(got.leased);
    BOOST_TEST(got.history.size() == 3u);
    got = parse_load(exec(load_request(keys, 0)));
    BOOST_REQUIRE(!got.records.empty());
    BOOST_TEST(got.records.front().seq == 3u); // trimmed below the seq to keep
}

BOOST_AUTO_TEST_CASE(a_turn_with_images_keeps_its_parts)
{
    const stored_turn with{"user", "see", "m1", R"([{"type":"text","text":"see"}])"};
    const auto back = decode_turn(encode_turn(with));
    BOOST_TEST(back.content == "see");
    BOOST_TEST(back.parts == with.parts);
    // A text turn is written as before, without parts.
    const auto text = encode_turn({"assistant", "ok", "m1"});
    BOOST_TEST(text.find("parts") == std::string::npos);
    BOOST_TEST(decode_turn(text).parts.empty());
}

BOOST_AUTO_TEST_SUITE_END()
