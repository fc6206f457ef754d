#include <tokenrelay/core/tls_client_context.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace tokenrelay {

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& extra_ca_file)
{
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    // TLS 1.0 and 1.1 are deprecated (RFC 8996); no model API or Redis needs them.
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
        throw std::runtime_error("cannot set the minimum TLS version");

    error_code ec;
    ctx->set_default_verify_paths(ec);
    if (ec)
        throw std::runtime_error("cannot use the system CA store: " + ec.message());
    if (!extra_ca_file.empty()) {
        ctx->load_verify_file(extra_ca_file, ec);
        if (ec)
            throw std::runtime_error(
                "cannot load CA certificates from '" + extra_ca_file + "': " + ec.message()
            );
    }
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

} // namespace tokenrelay
