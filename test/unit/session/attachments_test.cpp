#include <tokenrelay/session/attachments.hpp>

#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

namespace tokenrelay::session {
namespace {

struct fake_subscriber final : subscriber
{
    void wake() override {}
    void evicted(eviction) override {}
    void refused(errc, std::string, std::string, std::int64_t) override {}
};

std::vector<const subscriber*> order(attachments& a)
{
    std::vector<const subscriber*> out;
    a.for_each([&](attachments::reader& r) { out.push_back(r.sub.get()); });
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(attachments_test)

BOOST_AUTO_TEST_CASE(readers_keep_their_order_and_cursors)
{
    attachments a;
    BOOST_TEST(a.empty());
    BOOST_TEST(a.size() == 0u);
    auto x = std::make_shared<fake_subscriber>();
    auto y = std::make_shared<fake_subscriber>();
    auto z = std::make_shared<fake_subscriber>();
    BOOST_TEST(!a.add({x, 1}, 8));
    BOOST_TEST(!a.add({y, 2}, 8));
    BOOST_TEST(!a.add({z, 3}, 8));
    BOOST_TEST(a.size() == 3u);
    BOOST_TEST((order(a) == std::vector<const subscriber*>{x.get(), y.get(), z.get()}));
    BOOST_TEST(a.find(y.get())->cursor == 2u);
    a.find(y.get())->cursor = 7;
    BOOST_TEST(a.find(y.get())->cursor == 7u);
    BOOST_TEST(a.find(nullptr) == nullptr);
}

BOOST_AUTO_TEST_CASE(past_the_cap_the_oldest_is_returned)
{
    attachments a;
    auto x = std::make_shared<fake_subscriber>();
    auto y = std::make_shared<fake_subscriber>();
    auto z = std::make_shared<fake_subscriber>();
    BOOST_TEST(!a.add({x, 0}, 2));
    BOOST_TEST(!a.add({y, 0}, 2));
    BOOST_TEST(a.add({z, 0}, 2) == x);
    BOOST_TEST((order(a) == std::vector<const subscriber*>{y.get(), z.get()}));
    // A cap of one is takeover: each newcomer evicts the one before.
    attachments one;
    BOOST_TEST(!one.add({x, 0}, 1));
    BOOST_TEST(one.add({y, 0}, 1) == x);
    BOOST_TEST((order(one) == std::vector<const subscriber*>{y.get()}));
}

BOOST_AUTO_TEST_CASE(removing_any_keeps_the_rest_in_order)
{
    attachments a;
    std::vector<std::shared_ptr<fake_subscriber>> subs;
    for (int i = 0; i < 4; ++i) {
        subs.push_back(std::make_shared<fake_subscriber>());
        a.add({subs.back(), static_cast<std::uint64_t>(i)}, 8);
    }
    BOOST_TEST(a.remove(subs[0].get())); // the inline one: the next moves up
    BOOST_TEST(a.find(subs[1].get())->cursor == 1u);
    BOOST_TEST(a.remove(subs[2].get()));
    BOOST_TEST(!a.remove(subs[2].get()));
    BOOST_TEST((order(a) == std::vector<const subscriber*>{subs[1].get(), subs[3].get()}));
    BOOST_TEST(a.remove(subs[1].get()));
    BOOST_TEST(a.remove(subs[3].get()));
    BOOST_TEST(a.empty());
    BOOST_TEST(!a.all_of([](const attachments::reader&) { return true; }));
}

BOOST_AUTO_TEST_CASE(all_of_needs_every_reader)
{
    attachments a;
    auto x = std::make_shared<fake_subscriber>();
    auto y = std::make_shared<fake_subscriber>();
    a.add({x, 10}, 8);
    a.add({y, 20}, 8);
    BOOST_TEST(a.all_of([](const attachments::reader& r) { return r.cursor >= 10; }));
    BOOST_TEST(!a.all_of([](const attachments::reader& r) { return r.cursor >= 15; }));
    const auto gone = a.clear();
    BOOST_TEST(gone.size() == 2u);
    BOOST_TEST(a.empty());
}

BOOST_AUTO_TEST_CASE(one_reader_costs_no_vector)
{
    // A session with one connection holds the reader inline and a null pointer.
    BOOST_TEST(sizeof(attachments) <= sizeof(std::shared_ptr<subscriber>) + 2 * sizeof(void*));
}

BOOST_AUTO_TEST_SUITE_END()

} // namespace tokenrelay::session
