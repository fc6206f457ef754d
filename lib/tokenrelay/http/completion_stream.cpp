// The streamed answer of POST /v1/chat/completions (`stream: true`, PROTOCOL.md section
// 1): OpenAI's chat.completion.chunk events as SSE, sent as the upstream's events come.

#include <tokenrelay/http/completion_exchange.hpp>

#include <cstdio>

namespace tokenrelay::http_server {
namespace {

using event = upstream::stream_event;

/// Appends an upstream event's data as it came, one `data:` line per line of it.
void append_data_event(std::string& out, std::string_view data)
{
    for (;;) {
        const auto nl = data.find('\n');
        out += "data: ";
        out += data.substr(0, nl);
        out += '\n';
        if (nl == std::string_view::npos)
            break;
        data.remove_prefix(nl + 1);
    }
    out += '\n';
}

/// Appends one event as SSE; true when it was the last one.
bool append_event(exchange& x, std::string& out, const event& ev)
{
    account(x, ev);
    switch (ev.type) {
    case event::kind::chunk:
        append_data_event(out, ev.text);
        return false;
    case event::kind::usage_chunk:
        // Asked for upstream for the accounting; the client gets it when it asked too.
        if (x.include_usage)
            append_data_event(out, ev.text);
        return false;
    case event::kind::token:
        protocol::append_delta_chunk(out, x.meta, ev.text, protocol::delta_field::content);
        return false;
    case event::kind::reasoning:
        protocol::append_delta_chunk(
            out, x.meta, ev.text, protocol::delta_field::reasoning_content
        );
        return false;
    case event::kind::refusal:
        protocol::append_delta_chunk(out, x.meta, ev.text, protocol::delta_field::refusal);
        return false;
    case event::kind::finished:
        if (x.forwarded) {
            // The upstream's own finish and usage chunks went before.
            protocol::append_done_event(out);
            return true;
        }
        protocol::append_finish_chunk(out, x.meta, ev.end->finish_reason);
        // OpenAI's stream_options.include_usage: one last chunk with the usage, the
        // relay's estimate when the upstream gave none.
        if (const auto& usage = x.accounting.usage(); x.include_usage && usage) {
            protocol::append_usage_chunk(out, x.meta, usage->usage.tokens);
            // The usage object is the chunk's last member: `…}}\n\n`.
            if (const auto extras = usage_extras(*usage); !extras.empty())
                out.insert(out.size() - 4, extras);
        }
        protocol::append_done_event(out);
        return true;
    case event::kind::failed:
        // Mid-stream the status line is gone: OpenAI's own way is an error event, and no
        // [DONE], so a client cannot take the cut-off text for a complete reply.
        protocol::append_error_event(out, protocol::make_api_error(ev.end->code, ev.end->message));
        return true;
    }
    return true;
}

/// One piece of the body: a chunk (RFC 9112 section 7.1) for HTTP/1.1, raw bytes for an
/// HTTP/1.0 client, whose body ends when the connection closes.
awaitable<bool> write_body(exchange& x, std::string_view data, bool last)
{
    std::string wire;
    if (x.version >= 11) {
        char size[20];
        const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        wire.reserve(data.size() + 16);
        if (!data.empty()) {
            wire.append(size, static_cast<std::size_t>(n));
            wire += data;
            wire += "\r\n";
        }
        if (last)
            wire += "0\r\n\r\n";
    } else {
        wire = data;
    }
    // A client that stops reading is cut off after the idle timeout (section 5); the read
    // side's deadline is untouched while the watcher's read is pending.
    x.stream.expires_after(x.write_timeout);
    auto [ec, n] = co_await net::async_write(x.stream, net::buffer(wire), use_tuple);
    if (ec) {
        // The watcher's read ends with the socket, so the source is cancelled at once.
        x.stream.close();
        co_return false;
    }
    co_return true;
}

/// The SSE answer's header; false when it could not be written.
awaitable<bool> write_stream_header(exchange& x)
{
    http::response<http::empty_body> head{http::status::ok, x.version};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    // nginx would otherwise buffer the whole stream.
    head.set("X-Accel-Buffering", "no");
    if (x.version >= 11) {
        head.chunked(true);
    } else {
        x.keep_alive = false;
    }
    head.keep_alive(x.keep_alive);
    http::response_serializer<http::empty_body> sr{head};
    x.stream.expires_after(x.write_timeout);
    if (auto [ec, n] = co_await http::async_write_header(x.stream, sr, use_tuple); ec) {
        x.stream.close();
        co_return false;
    }
    co_return true;
}

} // namespace

awaitable<void> answer_streaming(exchange& x, upstream::event_channel& events, event first)
{
    if (!co_await write_stream_header(x))
        co_return;
    std::string batch;
    // A forwarded request's upstream sends its own role chunk.
    if (!x.forwarded)
        protocol::append_role_chunk(batch, x.meta);
    bool last = append_event(x, batch, first);
    for (;;) {
        // Section 5: events that queued up while the client was slow go out in one write.
        while (!last && events.try_receive([&](error_code ec, event ev) {
            if (!ec)
                last = append_event(x, batch, ev);
        })) {
        }
        if (!co_await write_body(x, batch, last))
            co_return;
        if (last)
            break;
        batch.clear();
        auto [ec, ev] = co_await events.async_receive(use_tuple);
        if (ec)
            co_return;
        last = append_event(x, batch, ev);
    }
    x.completed = true;
}

} // namespace tokenrelay::http_server
