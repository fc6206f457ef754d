// mock_upstream: the OpenAI-compatible fake model server used by the integration tests and
// benchmarks. Behaviour contract: docs/mock_upstream.md.

#include <tokenrelay/core/net.hpp>

#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <testing/mock/options.hpp>
#include <testing/mock/server.hpp>
#include <vector>

int main(int argc, char** argv)
{
    namespace mock = tokenrelay::mock;
    namespace net = tokenrelay::net;

    const std::vector<std::string_view> args(argv + 1, argv + argc);
    const auto parsed = mock::parse_options(args);
    if (!parsed.value) {
        std::fprintf(stderr, "mock_upstream: %s\n", parsed.error.c_str());
        return 2;
    }
    const auto& opts = *parsed.value;

    tokenrelay::error_code ec;
    const auto address = net::ip::make_address(opts.host, ec);
    if (ec) {
        std::fprintf(stderr, "mock_upstream: --listen: bad address %s\n", opts.host.c_str());
        return 2;
    }

    net::io_context ioc{1};
    std::optional<mock::server> srv;
    try {
        srv.emplace(
            ioc.get_executor(),
            mock::server_config{
                {address, opts.port}, opts.tls_cert, opts.tls_key, opts.token_interval}
        );
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "mock_upstream: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mock_upstream: cannot listen: %s\n", e.what());
        return 1;
    }

    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const tokenrelay::error_code&, int) {
        srv->stop();
        ioc.stop();
    });

    srv->start();
    const auto ep = srv->local_endpoint();
    std::printf("listening on %s:%u\n", ep.address().to_string().c_str(), unsigned{ep.port()});
    std::fflush(stdout);

    ioc.run();
    return 0;
}
