#pragma once
// A throw-away certificate authority made at test time, for the HTTPS upstream tests
// (PROTOCOL.md section 6: certificates verified, SNI set).

#include <filesystem>

namespace tokenrelay::test {

struct test_certs
{
    std::filesystem::path ca_cert;     // self-signed CA, PEM
    std::filesystem::path server_cert; // for IP 127.0.0.1 and DNS localhost, signed by the CA
    std::filesystem::path server_key;
    std::filesystem::path wrong_host_cert; // for DNS wrong.example only, signed by the CA
    std::filesystem::path wrong_host_key;
};

/// Writes a fresh CA and two server certificates (P-256, valid for two days) into `dir`.
test_certs make_test_certs(const std::filesystem::path& dir);

} // namespace tokenrelay::test
