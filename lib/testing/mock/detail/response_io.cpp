#include <testing/mock/detail/response_io.hpp>

namespace tokenrelay::mock::detail {

std::string stream_head(bool keep_alive, bool chunked)
{
    std::string h = "HTTP/1.1 200 OK\r\n"
                    "Server: mock_upstream\r\n"
                    "Content-Type: text/event-stream\r\n"
                    "Cache-Control: no-cache\r\n";
    if (chunked)
        h += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive)
        h += "Connection: close\r\n";
    h += "\r\n";
    return h;
}

} // namespace tokenrelay::mock::detail
