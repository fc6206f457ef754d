// The connection's reader, written once over either framing (transport.hpp).
#include <tokenrelay/core/log.hpp>
#include <tokenrelay/ws/connection.hpp>

namespace tokenrelay::ws {
namespace {

// The connection slot reserved for an address (connection_set::try_reserve), given back
// however serving ends.
struct reservation
{
    runtime::connection_set& connections;
    std::string ip;
    ~reservation()
    {
        if (!ip.empty())
            connections.release(ip);
    }
};

} // namespace

awaitable<void> connection::serve(std::shared_ptr<connection> self, std::string ip)
{
    // Not a coroutine: the reader's frame is the only one an idle connection holds.
    return read_loop(std::get<own_transport>(transport_), std::move(self), std::move(ip));
}

awaitable<void> connection::serve_compressed(
    std::shared_ptr<connection> self,
    http::request<http::string_body> request,
    std::optional<resume_request> resume_from,
    std::string ip
)
{
    reservation held{messages_.state().connections, ip};
    auto& t = std::get<beast_transport>(transport_);
    const bool accepted =
        co_await t.accept(request, messages_.state().config.largest_frame_bytes());
    if (!accepted) {
        log::debug("ws_handshake_failed", {{"ip", ip}});
        co_return;
    }
    open(resume_from, ip);
    held.ip.clear(); // the reader holds it from here on
    co_await read_loop(t, std::move(self), std::move(ip));
}

template <class T>
awaitable<void> connection::read_loop(T& t, std::shared_ptr<connection> self, std::string ip)
{
    reservation held{messages_.state().connections, std::move(ip)};
    read_step step = read_step::go_on;
    while (step == read_step::go_on) {
        if (messages_.store_pending()) {
            // Read on only once the session is here: what comes next is for it.
            co_await messages_.finish_pending(self);
            notify_writer();
        }
        if (answers_backlogged(t)) {
            t.keep_unread();
            co_await wait_for_answer_room(t);
        }
        if (writer_done_)
            break;
        // The event is parsed and acted on in a plain function: what this frame keeps is
        // what an idle connection holds, and an event kept here would be in it.
        step = on_next_event(t);
        if (step != read_step::need_input)
            continue;
        auto input = t.wait_input();
        auto result = co_await std::move(input);
        if (const auto ec = t.take_input(result)) {
            log::debug("ws_read_end", {{"session", messages_.log_id()}, {"error", ec.message()}});
            break;
        }
        keepalive_.on_read(std::chrono::steady_clock::now());
        step = read_step::go_on;
    }
    if (step == read_step::broken) {
        // The stream is broken: nothing more in it can be parsed. Read on to the client's
        // end of the connection, so closing does not reset it under the close frame (a
        // client still writing a message would never see the close).
        co_await t.discard_input();
    }
    co_await finish(std::move(self));
}

template <class T> connection::read_step connection::on_next_event(T& t)
{
    const auto event = t.parse();
    if (event.what == client_event::kind::need_input)
        return read_step::need_input;
    if (event.what == client_event::kind::fail) {
        log::debug(
            "ws_protocol_error",
            {{"session", messages_.log_id()}, {"error", std::string(event.reason)}}
        );
        request_close(event.code, event.reason);
        return read_step::broken;
    }
    return on_event(t, event) ? read_step::go_on : read_step::stop;
}

template <class T> bool connection::on_event(T& t, const client_event& event)
{
    using kind = client_event::kind;
    switch (event.what) {
    case kind::message:
        // Closing: drain until the client's close arrives.
        if (!close_ && !event.text) {
            request_close(close_code::unsupported_data, "binary frames are not supported");
        } else if (!close_) {
            if (!messages_.on_text(event.data, shared_from_this()))
                request_close(close_code::too_big, "message too big");
            else if (!messages_.answers().empty())
                notify_writer();
        }
        t.release_message();
        return true;
    case kind::ping:
        if (!close_) {
            t.queue_pong(event.data);
            notify_writer();
        }
        return true;
    case kind::close:
        // RFC 6455 section 5.5.1: answered with the same code, unless ours is already out.
        request_close(event.code == close_code::no_status ? close_code::normal : event.code, "");
        return false;
    case kind::need_input:
    case kind::fail:
        break;
    }
    return true;
}

template <class T> bool connection::answers_backlogged(const T& t) const noexcept
{
    const auto unwritten =
        messages_.answers().size() + t.unwritten_answers() + (answers_in_flight_ ? 1 : 0);
    return unwritten >= T::max_unwritten_answers;
}

template <class T> awaitable<void> connection::wait_for_answer_room(const T& t)
{
    while (answers_backlogged(t) && !reader_done_ && !writer_done_) {
        reader_waiting_ = true;
        co_await reader_timer_.wait_until_cancelled(messages_.loop().executor);
        reader_waiting_ = false;
    }
}

void connection::wake_reader()
{
    if (reader_waiting_)
        reader_timer_.cancel();
}

} // namespace tokenrelay::ws
