#include "support/test_ca.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace tokenrelay::test {

namespace {

struct pkey_free
{
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free
{
    void operator()(X509* p) const { X509_free(p); }
};
struct bio_free
{
    void operator()(BIO* p) const { BIO_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

[[noreturn]] void fail(const std::string& what)
{
    char buf[256] = {};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    throw std::runtime_error("test_ca: " + what + ": " + buf);
}

void check(int ok, const char* what)
{
    if (ok != 1)
        fail(what);
}

pkey_ptr make_key()
{
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key)
        fail("EVP_EC_gen");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext)
        fail(std::string("extension ") + value);
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    check(ok, "X509_add_ext");
}

/// A certificate for `key` named `cn`; self-signed when `issuer` is null.
x509_ptr make_cert(
    EVP_PKEY* key, const char* cn, long serial, X509* issuer, EVP_PKEY* issuer_key, const char* san
)
{
    x509_ptr cert(X509_new());
    if (!cert)
        fail("X509_new");
    X509* x = cert.get();
    check(X509_set_version(x, 2), "X509_set_version");
    check(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), "serial");
    // An hour of slack before now: the relay and the test share a clock, but not a second.
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 2 * 24 * 3600))
        fail("validity");
    check(X509_set_pubkey(x, key), "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(x);
    check(
        X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0
        ),
        "subject"
    );
    X509* signer = issuer ? issuer : x;
    check(X509_set_issuer_name(x, X509_get_subject_name(signer)), "issuer");
    add_ext(x, signer, NID_subject_key_identifier, "hash");
    if (!issuer) {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
        add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, signer, NID_ext_key_usage, "serverAuth");
        add_ext(x, signer, NID_subject_alt_name, san);
    }
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        fail("X509_sign");
    return cert;
}

void write_cert(X509* cert, const std::filesystem::path& p)
{
    bio_ptr out(BIO_new_file(p.c_str(), "w"));
    if (!out)
        fail("open " + p.string());
    check(PEM_write_bio_X509(out.get(), cert), "PEM_write_bio_X509");
}

void write_key(EVP_PKEY* key, const std::filesystem::path& p)
{
    bio_ptr out(BIO_new_file(p.c_str(), "w"));
    if (!out)
        fail("open " + p.string());
    check(
        PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey"
    );
}

} // namespace

test_certs make_test_certs(const std::filesystem::path& dir)
{
    test_certs out{
        .ca_cert = dir / "ca.pem",
        .server_cert = dir / "server.pem",
        .server_key = dir / "server.key",
        .wrong_host_cert = dir / "wrong.pem",
        .wrong_host_key = dir / "wrong.key",
    };
    const auto ca_key = make_key();
    const auto ca = make_cert(ca_key.get(), "tokenrelay test CA", 1, nullptr, nullptr, nullptr);
    write_cert(ca.get(), out.ca_cert);

    const auto server_key = make_key();
    const auto server = make_cert(
        server_key.get(), "127.0.0.1", 2, ca.get(), ca_key.get(), "IP:127.0.0.1,DNS:localhost"
    );
    write_cert(server.get(), out.server_cert);
    write_key(server_key.get(), out.server_key);

    const auto wrong_key = make_key();
    const auto wrong =
        make_cert(wrong_key.get(), "wrong.example", 3, ca.get(), ca_key.get(), "DNS:wrong.example");
    write_cert(wrong.get(), out.wrong_host_cert);
    write_key(wrong_key.get(), out.wrong_host_key);
    return out;
}

} // namespace tokenrelay::test
