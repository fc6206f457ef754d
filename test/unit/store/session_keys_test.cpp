#include <tokenrelay/store/session_keys.hpp>

#include <boost/test/unit_test.hpp>

using namespace tokenrelay::store;

BOOST_AUTO_TEST_SUITE(session_keys_suite)

BOOST_AUTO_TEST_CASE(keys_share_a_hash_tag_and_never_hold_the_id)
{
    const std::string id = "AbCdEfGhIjKlMnOpQrStUv";
    const auto k = keys_for(id);
    BOOST_TEST(k.tag.size() == 24u); // "{" + 22 + "}"
    for (const auto* key : {&k.log, &k.meta, &k.history, &k.lease, &k.notify, &k.cancel}) {
        BOOST_TEST(key->starts_with("tr:" + k.tag + ":"), *key);
        BOOST_TEST(key->find(id) == std::string::npos, *key);
        // One tag per key: Cluster hashes only what is between the first { and }.
        BOOST_TEST(key->find('{') == key->rfind('{'));
    }
    BOOST_TEST(k.log != k.meta);
}

BOOST_AUTO_TEST_CASE(the_hash_is_sha256_truncated_base64url)
{
    // SHA-256("abc") begins ba7816bf8f01cfea414140de5dae2223.
    BOOST_TEST(session_hash("abc") == "ungWv48Bz-pBQUDeXa4iIw");
    BOOST_TEST(session_hash("abc") == session_hash("abc"));
    BOOST_TEST(session_hash("abd") != session_hash("abc"));
}

BOOST_AUTO_TEST_SUITE_END()
