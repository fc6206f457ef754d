#pragma once
// A certificate made for a test, its PEM files and a server context: for the TLS tests of
// the upstream module.

#include <tokenrelay/core/net.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace tokenrelay::upstream::test {

struct pem_pair
{
    std::string cert;
    std::string key;
};

inline void check(bool ok, const char* what)
{
    if (!ok)
        throw std::runtime_error(std::string("OpenSSL: ") + what);
}

inline std::string to_pem(const std::function<int(BIO*)>& write)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    check(bio && write(bio.get()) == 1, "PEM write");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

/// A self-signed certificate whose subjectAltName is `san` (e.g. "DNS:localhost").
inline pem_pair make_certificate(const char* san)
{
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    check(key != nullptr, "key generation");
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    check(cert != nullptr, "X509_new");
    X509* x = cert.get();
    check(X509_set_version(x, 2) == 1, "version");
    check(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1, "serial");
    check(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600) != nullptr, "notAfter");
    check(X509_set_pubkey(x, key.get()) == 1, "pubkey");
    X509_NAME* name = X509_get_subject_name(x);
    check(
        X509_NAME_add_entry_by_txt(
            name,
            "CN",
            MBSTRING_ASC,
            reinterpret_cast<const unsigned char*>("tokenrelay test"),
            -1,
            -1,
            0
        ) == 1,
        "CN"
    );
    check(X509_set_issuer_name(x, name) == 1, "issuer");
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    for (const auto& [nid, value] : {
             std::pair{NID_subject_alt_name, san},
             std::pair{NID_basic_constraints, "critical,CA:TRUE"},
             std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
         }) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        check(ext != nullptr, "extension");
        check(X509_add_ext(x, ext, -1) == 1, "add extension");
        X509_EXTENSION_free(ext);
    }
    check(X509_sign(x, key.get(), EVP_sha256()) > 0, "sign");
    return {
        to_pem([&](BIO* b) { return PEM_write_bio_X509(b, x); }),
        to_pem([&](BIO* b) {
            return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
        }),
    };
}

/// A file that is removed when the test ends.
struct temp_file
{
    explicit temp_file(const std::string& content)
    {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("tokenrelay-upstream-" + std::to_string(::getpid()) + "-" +
                std::to_string(++counter) + ".pem");
        std::ofstream(path, std::ios::binary) << content;
    }
    ~temp_file()
    {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
    std::filesystem::path path;
};

inline std::unique_ptr<ssl::context> server_context(const pem_pair& pems)
{
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain(net::buffer(pems.cert));
    ctx->use_private_key(net::buffer(pems.key), ssl::context::pem);
    return ctx;
}

} // namespace tokenrelay::upstream::test
