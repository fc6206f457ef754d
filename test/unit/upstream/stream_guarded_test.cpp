// A model source that throws still ends its stream with exactly one `failed` event; a
// cancelled one ends with no event at all; a well-behaved one is passed through as is.
#include <tokenrelay/upstream/stream_guarded.hpp>

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <vector>

namespace tokenrelay::upstream {
namespace {

using namespace net::experimental::awaitable_operators;
using namespace std::chrono_literals;

/// Sends one token, then either throws, finishes, or waits until it is cancelled.
class scripted_source : public model_source
{
public:
    enum class then { throws, finishes, hangs };
    explicit scripted_source(then t) : then_(t) {}

    awaitable<void> stream(chat_request, event_channel& out) override
    {
        stream_event token;
        token.text = "w0 ";
        co_await out.async_send(error_code{}, std::move(token), net::use_awaitable);
        if (then_ == then::throws)
            throw std::runtime_error("secret internals");
        if (then_ == then::finishes) {
            auto fin = stream_event::finished("stop", std::nullopt);
            co_await out.async_send(error_code{}, std::move(fin), net::use_awaitable);
            co_return;
        }
        net::steady_timer forever(co_await net::this_coro::executor, 1h);
        co_await forever.async_wait(net::use_awaitable);
    }

private:
    then then_;
};

struct outcome
{
    std::vector<stream_event> events;
    bool cancelled_through = false;
};

/// Runs the guard over `source` and collects every event it sends; with `cancel_after_first`
/// the guard is cancelled once the first token has arrived.
outcome run_guarded(model_source& source, bool cancel_after_first)
{
    net::io_context ioc;
    outcome got;
    net::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            event_channel ch(co_await net::this_coro::executor, 16);
            auto collect = [&]() -> awaitable<void> {
                for (;;) {
                    auto [ec, ev] = co_await ch.async_receive(use_tuple);
                    if (ec)
                        co_return;
                    const bool last = ev.type == stream_event::kind::finished ||
                                      ev.type == stream_event::kind::failed;
                    got.events.push_back(std::move(ev));
                    if (last || cancel_after_first)
                        co_return;
                }
            };
            // Records whether the guard let an exception through, and which.
            auto guarded = [&]() -> awaitable<void> {
                // Named, not temporaries in the co_await: GCC 12 mishandles those.
                std::string session = "s-1";
                chat_request request;
                try {
                    co_await stream_guarded(source, std::move(request), ch, std::move(session));
                } catch (const boost::system::system_error& e) {
                    got.cancelled_through = e.code() == net::error::operation_aborted;
                    throw;
                }
            };
            // `||` cancels the guard once the collector is done; `&&` lets both finish.
            if (cancel_after_first)
                co_await (guarded() || collect());
            else
                co_await (guarded() && collect());
            if (cancel_after_first) {
                // The guard sent nothing more while it was being cancelled.
                while (ch.try_receive([&](error_code, stream_event ev) {
                    got.events.push_back(std::move(ev));
                }))
                    ;
            }
        },
        net::detached
    );
    ioc.run_for(10s);
    return got;
}

BOOST_AUTO_TEST_CASE(a_throwing_source_ends_with_one_failed_event)
{
    scripted_source source(scripted_source::then::throws);
    const auto got = run_guarded(source, false);
    BOOST_TEST_REQUIRE(got.events.size() == 2u);
    BOOST_TEST(got.events[0].text == "w0 ");
    BOOST_TEST((got.events[1].type == stream_event::kind::failed));
    BOOST_TEST_REQUIRE(got.events[1].end != nullptr);
    BOOST_TEST((got.events[1].end->code == errc::upstream_error));
    // What the source threw stays in the log, out of the frame.
    BOOST_TEST(got.events[1].end->message == "upstream request failed");
    BOOST_TEST(!got.cancelled_through);
}

BOOST_AUTO_TEST_CASE(a_well_behaved_source_is_passed_through)
{
    scripted_source source(scripted_source::then::finishes);
    const auto got = run_guarded(source, false);
    BOOST_TEST_REQUIRE(got.events.size() == 2u);
    BOOST_TEST(got.events[0].text == "w0 ");
    BOOST_TEST((got.events[1].type == stream_event::kind::finished));
    BOOST_TEST(got.events[1].end->finish_reason == "stop");
}

BOOST_AUTO_TEST_CASE(cancellation_passes_through_without_an_event)
{
    scripted_source source(scripted_source::then::hangs);
    const auto got = run_guarded(source, true);
    BOOST_TEST_REQUIRE(got.events.size() == 1u);
    BOOST_TEST(got.events[0].text == "w0 ");
    BOOST_TEST(got.cancelled_through);
}

} // namespace
} // namespace tokenrelay::upstream
