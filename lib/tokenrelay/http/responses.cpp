#include <tokenrelay/files/static_path.hpp>
#include <tokenrelay/http/responses.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace tokenrelay::http_server {

response
text_response(http::status status, std::string_view body, unsigned version, bool keep_alive)
{
    response res{status, version};
    res.set(http::field::server, "tokenrelay");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = std::string(body);
    res.prepare_payload();
    return res;
}

response
static_file_response(const std::string& root, const http::request<http::string_body>& request)
{
    const auto version = request.version();
    const auto keep_alive = request.keep_alive();
    auto relative = files::resolve_target(request.target());
    if (!relative)
        return text_response(http::status::not_found, "not found", version, keep_alive);
    auto path = files::resolve_file(root, *relative);
    if (!path)
        return text_response(http::status::not_found, "not found", version, keep_alive);

    std::error_code ec;
    const auto size = std::filesystem::file_size(*path, ec);
    const auto mtime = std::filesystem::last_write_time(*path, ec);
    if (ec)
        return text_response(http::status::not_found, "not found", version, keep_alive);
    const auto etag = files::make_etag(
        size, std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count()
    );

    response res{http::status::ok, version};
    res.set(http::field::server, "tokenrelay");
    res.set(http::field::etag, etag);
    // The page is small and changes with the binary: revalidate every time (ETag makes
    // that a 304).
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.keep_alive(keep_alive);
    if (auto inm = request[http::field::if_none_match];
        !inm.empty() && files::etag_matches(inm, etag)) {
        res.result(http::status::not_modified);
        return res;
    }
    std::ifstream in(*path, std::ios::binary);
    if (!in)
        return text_response(http::status::not_found, "not found", version, keep_alive);
    res.set(http::field::content_type, files::mime_type(*path));
    if (request.method() != http::verb::head)
        res.body().assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    res.prepare_payload();
    if (request.method() == http::verb::head)
        res.content_length(size);
    return res;
}

awaitable<bool> write_response(beast::tcp_stream& stream, response res, bool head)
{
    if (head) {
        http::response_serializer<http::string_body> sr{res};
        auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
        co_return !ec;
    }
    auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
    co_return !ec;
}

} // namespace tokenrelay::http_server
