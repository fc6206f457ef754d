#include "loopback_server.hpp"
#include <tokenrelay/upstream/demo_source.hpp>

#include <boost/test/unit_test.hpp>

namespace tokenrelay::upstream {
namespace {

using namespace test;
using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;

chat_request ask(std::string text)
{
    chat_request r;
    r.model = "demo";
    r.messages = {{"system", "be nice"}, {"user", std::move(text)}};
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(demo_model)

BOOST_AUTO_TEST_CASE(replies_depend_on_the_last_message)
{
    const auto greeting = demo_source::reply_for(ask("hello there"));
    const auto about = demo_source::reply_for(ask("What is tokenrelay?"));
    const auto other = demo_source::reply_for(ask("Tell me about `penguins`\nplease"));
    BOOST_TEST(greeting != about);
    BOOST_TEST(greeting.rfind("Hello!", 0) == 0u);
    BOOST_TEST(about.find("**tokenrelay** is") == 0u);
    BOOST_TEST(
        other.find("You said: \"Tell me about 'penguins' please\".") == 0u, other
    ); // quoted, with Markdown-breaking characters neutralised
    for (const auto& r : {greeting, about, other}) {
        BOOST_TEST(r.find('`') != std::string::npos); // a code span for the page's Markdown
        BOOST_TEST((r.find("\n- ") != std::string::npos || r.find("\n1. ") != std::string::npos));
    }
    // "hi" inside another word is not a greeting.
    BOOST_TEST(demo_source::reply_for(ask("this")).rfind("You said:", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(tokens_are_words_with_their_trailing_space)
{
    const std::vector<std::string> want{"Hello, ", "**demo** ", "list:\n\n", "- ", "a"};
    BOOST_TEST(
        demo_source::split_tokens("Hello, **demo** list:\n\n- a") == want,
        boost::test_tools::per_element()
    );
    BOOST_TEST(demo_source::split_tokens("").empty());
}

BOOST_AUTO_TEST_CASE(streams_the_reply_then_finishes_with_usage)
{
    net::io_context ioc;
    demo_source src(ioc.get_executor(), std::chrono::milliseconds(1));
    const auto request = ask("hello");
    std::string text;
    std::size_t tokens = 0;
    stream_event last;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        event_channel ch(co_await net::this_coro::executor, 4);
        auto consume = [&]() -> awaitable<void> {
            for (;;) {
                auto ev = co_await ch.async_receive(net::use_awaitable);
                if (ev.type != stream_event::kind::token) {
                    last = std::move(ev);
                    co_return;
                }
                ++tokens;
                text += ev.text;
            }
        };
        co_await (src.stream(request, ch) && consume());
    });
    const auto want = demo_source::reply_for(request);
    BOOST_TEST(text == want);
    BOOST_TEST(tokens == demo_source::split_tokens(want).size());
    BOOST_TEST_REQUIRE((last.type == stream_event::kind::finished));
    BOOST_TEST(last.end->finish_reason == "stop");
    BOOST_TEST_REQUIRE(last.end->usage.has_value());
    BOOST_TEST(last.end->usage->prompt_tokens == static_cast<std::int64_t>((7 + 5) / 4));
    BOOST_TEST(last.end->usage->completion_tokens == static_cast<std::int64_t>(tokens));
}

BOOST_AUTO_TEST_CASE(cancellation_stops_it_between_tokens)
{
    net::io_context ioc;
    demo_source src(ioc.get_executor(), std::chrono::milliseconds(20));
    std::size_t received = 0;
    std::size_t winner = 99;
    std::size_t leftover = 99;
    run_with_limit(ioc, [&]() -> awaitable<void> {
        event_channel ch(co_await net::this_coro::executor, 64);
        auto take_three = [&]() -> awaitable<void> {
            for (; received < 3; ++received)
                co_await ch.async_receive(net::use_awaitable);
        };
        // `||` returns only once stream() has ended too: nothing can be sent after this.
        auto r = co_await (src.stream(ask("hello"), ch) || take_three());
        winner = r.index();
        leftover = 0;
        while (ch.try_receive([](error_code, stream_event) {}))
            ++leftover;
    });
    BOOST_TEST(winner == 1u);
    BOOST_TEST(received == 3u);
    BOOST_TEST(leftover == 0u); // no token and no finished after the cancellation
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::upstream
