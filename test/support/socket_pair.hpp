#pragma once
// Both ends of one loopback TCP connection, for unit tests that need a real socket.

#include <tokenrelay/core/net.hpp>

namespace tokenrelay::test {

struct socket_pair
{
    explicit socket_pair(net::io_context& ioc) : near(ioc), far(ioc)
    {
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
        near.connect(acceptor.local_endpoint());
        far = acceptor.accept();
    }

    tcp::socket near;
    tcp::socket far;
};

} // namespace tokenrelay::test
