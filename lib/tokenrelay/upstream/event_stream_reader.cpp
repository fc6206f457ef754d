// A 2xx response's body: SSE events decoded into chunks (OpenAI or Anthropic), their text
// sent on as it comes through the key's stream_redactor, and the reply's end (PROTOCOL.md
// section 6). This is the path of every token: the body is parsed in place and the token
// deadline held by a read_watchdog (docs/performance.md, "Upstream body parsed in place").

#include <tokenrelay/core/clock.hpp>
#include <tokenrelay/core/draining_read_buffer.hpp>
#include <tokenrelay/core/op_memory.hpp>
#include <tokenrelay/core/redact.hpp>
#include <tokenrelay/core/session_id.hpp>
#include <tokenrelay/core/stream_redactor.hpp>
#include <tokenrelay/protocol/anthropic_translation.hpp>
#include <tokenrelay/sse/anthropic_decoder.hpp>
#include <tokenrelay/sse/openai_decoder.hpp>
#include <tokenrelay/sse/parser.hpp>
#include <tokenrelay/upstream/attempt.hpp>
#include <tokenrelay/upstream/read_watchdog.hpp>

#include <boost/beast/core/read_size.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <span>
#include <type_traits>
#include <utility>

namespace tokenrelay::upstream::detail {

namespace {

// After [DONE] the rest of the body (the last chunk) is read only so the connection can
// be reused; a server that dawdles past this gets its connection closed instead.
constexpr milliseconds drain_limit{1000};
constexpr std::size_t drain_bytes = 64 * 1024;

/// A chunk's data with choices[0].delta's reasoning, refusal and content replaced by
/// `texts` (in that order), each where it came from.
std::string with_deltas(std::string_view data, const std::array<std::string_view, 3>& texts)
{
    error_code ec;
    auto jv = boost::json::parse(data, ec);
    auto* choices = ec || !jv.is_object() ? nullptr : jv.get_object().if_contains("choices");
    auto* list = choices ? choices->if_array() : nullptr;
    auto* choice = list && !list->empty() ? list->front().if_object() : nullptr;
    auto* delta_value = choice ? choice->if_contains("delta") : nullptr;
    auto* delta = delta_value ? delta_value->if_object() : nullptr;
    if (!delta)
        return std::string(data);
    const std::string_view reasoning_key =
        delta->contains("reasoning") && !delta->contains("reasoning_content") ? "reasoning"
                                                                              : "reasoning_content";
    const std::array<std::string_view, 3> keys{reasoning_key, "refusal", "content"};
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (!texts[i].empty() || delta->contains(keys[i]))
            (*delta)[keys[i]] = texts[i];
    return boost::json::serialize(jv);
}

stream_event text_event(call_state& c, stream_event::kind kind, std::string_view text)
{
    c.token_sent = true;
    stream_event ev;
    ev.type = kind;
    ev.text = text;
    return ev;
}

/// A reply's text as it goes out: a kind of delta, where the chunk decoder puts it, and
/// what keeps the upstream key out of it (stream_redactor.hpp: an upstream that echoes
/// the key in a successful reply must not reach the client with it).
struct text_delta
{
    stream_event::kind kind;
    const std::string* text;
    stream_redactor* redactor;
};

/// Sends a forwarded request's chunks, waiting for room only when the channel is full.
awaitable<void> send_forwarded(call_state& c, std::vector<stream_event>& events)
{
    for (auto& e : events) {
        const auto state = co_await net::this_coro::cancellation_state;
        if (!hand_over(c, e, state))
            co_await send_event(c, std::move(e));
    }
}

/// Sends what the redactors still hold back, before the reply's end.
template <std::size_t N>
awaitable<void> send_held_text(call_state& c, const std::array<text_delta, N>& deltas)
{
    for (const auto& d : deltas) {
        const auto rest = d.redactor->flush();
        if (rest.empty())
            continue;
        // Named: GCC 12 mishandles class-type temporaries in co_await operands.
        auto ev = text_event(c, d.kind, rest);
        co_await send_event(c, std::move(ev));
    }
}

// The silence timer restarts only after the send: a slow consumer holding the bounded
// channel is not upstream silence (PROTOCOL.md section 5).
void extend_read_deadline(call_state& c, read_watchdog& watchdog)
{
    c.read_deadline = clock::now() + c.options.token_timeout;
    // After the first token the deadline can come earlier (--token-timeout is shorter
    // than what was left of --first-token-timeout).
    watchdog.deadline_moved();
}

// Reads what is left of a finished body so the connection can carry the next request.
template <class Stream>
awaitable<bool> drain_body(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    conn.expires_at(clock::now() + std::min<milliseconds>(drain_limit, c.options.token_timeout));
    std::array<char, 1024> buf;
    std::size_t seen = 0;
    while (!parser.is_done() && seen < drain_bytes) {
        parser.get().body().data = buf.data();
        parser.get().body().size = buf.size();
        auto [ec, n] = co_await http::async_read_some(stream, conn.buffer(), parser, use_tuple);
        if (ec && ec != http::error::need_buffer)
            co_return false;
        seen += buf.size() - parser.get().body().size;
    }
    co_return parser.is_done();
}

/// What body reads go through: TLS needs its stream, while a plain connection reads its
/// socket directly, as tcp_stream adds a composed operation per read for the expiry that
/// read_watchdog has taken over.
template <class Stream> auto& body_layer(Stream& stream, connection& conn)
{
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
        return conn.plain()->socket();
    else
        return stream;
}

struct parse_step
{
    std::size_t body_bytes = 0;
    bool need_input = false;
    error_code ec;
};

/// Runs the buffered response bytes through the parser, which writes body bytes to
/// `body` until it is full, the input runs out or the message ends.
parse_step parse_buffered(response_parser& parser, beast::flat_buffer& in, std::span<char> body)
{
    parser.get().body().data = body.data();
    parser.get().body().size = body.size();
    parse_step step;
    for (;;) {
        if (parser.is_done())
            break;
        if (in.size() == 0) {
            step.need_input = true;
            break;
        }
        error_code ec;
        in.consume(parser.put(in.data(), ec));
        if (ec == http::error::need_more) {
            step.need_input = true;
            break;
        }
        if (ec == http::error::need_buffer)
            break;
        if (ec) {
            step.ec = ec;
            break;
        }
    }
    step.body_bytes = body.size() - parser.get().body().size;
    return step;
}

attempt_result finished(bool reusable)
{
    attempt_result r;
    r.kind = verdict::done;
    r.reusable = reusable;
    return r;
}

enum class chunk_step {
    need_more, // no complete event is buffered
    tokens,    // `chunk` holds deltas (maybe none) to send
    done,      // [DONE] or message_stop: the reply is complete
    failed,    // an unreadable event or an upstream error: `problem` says which
};

/// What the reading of one reply holds between reads, sans I/O: the SSE framing, the
/// decoder of the upstream's format, the chunk just decoded, the redactors its text passes
/// through and how the reply has said it ends so far. Lives in the coroutine's frame and
/// never moves: `deltas` points into it.
struct reply_reader
{
    reply_reader(int response_status, const call_state& c)
        : status(response_status), anthropic(c.options.format == api_format::anthropic),
          reasoning_redactor(c.options.api_key), refusal_redactor(c.options.api_key),
          content_redactor(c.options.api_key)
    {
        if (c.forward && anthropic)
            translator.emplace(protocol::completion_meta{
                "chatcmpl-" + make_session_id(), now_ms() / 1000, c.model});
    }
    reply_reader(const reply_reader&) = delete;
    reply_reader& operator=(const reply_reader&) = delete;

    /// Decodes the next buffered event into `chunk`.
    chunk_step next_chunk()
    {
        const auto st = events.next(ev);
        if (st == sse::parse_status::need_more)
            return chunk_step::need_more;
        if (st == sse::parse_status::error) {
            problem = "unreadable upstream event stream: " + std::string(events.error_message());
            return chunk_step::failed;
        }
        const bool decoded = anthropic ? anthropic_decoder.decode(ev.type, ev.data, chunk)
                                       : decoder.decode(ev.data, chunk);
        if (!decoded) {
            problem = "malformed upstream event: " +
                      std::string(anthropic ? anthropic_decoder.why() : decoder.why());
            return chunk_step::failed;
        }
        if (chunk.done)
            return chunk_step::done;
        // PROTOCOL.md section 6: an `error` member is an upstream error even in a 200.
        if (chunk.is_error) {
            problem = "upstream error: " + (chunk.error_message.empty()
                                                ? std::string("(no message)")
                                                : cut(chunk.error_message, max_error_text));
            return chunk_step::failed;
        }
        return chunk_step::tokens;
    }

    /// A forwarded request's chunks for the event just decoded (PROTOCOL.md section 9):
    /// the event's data as it came, or, from an Anthropic upstream, its translation; in
    /// both the key is kept out. Their text goes through the same redactors as a chat's,
    /// so a key split over several chunks is caught too; the rare chunk they change is
    /// rewritten. Fills `forwarded`.
    void forward_event(const call_state& c)
    {
        forwarded.clear();
        std::array<std::string_view, 3> visible;
        bool changed = false;
        for (std::size_t i = 0; i < deltas.size(); ++i) {
            const auto& d = deltas[i];
            if (d.text->empty())
                continue;
            visible[i] = d.redactor->push(*d.text);
            changed = changed || visible[i] != *d.text;
        }
        const auto& key = c.options.api_key;
        const auto add = [&](std::string_view data, stream_event::kind kind) {
            stream_event e;
            e.type = kind;
            if (changed)
                e.text = redact(with_deltas(data, visible), key);
            else if (!key.empty() && data.find(key) != std::string_view::npos)
                e.text = redact(data, key);
            else
                e.text = data;
            forwarded.push_back(std::move(e));
        };
        if (translator) {
            translated.clear();
            // The decoder read this event already; what it accepted translates.
            translator->feed(ev.type, ev.data, translated);
            for (const auto& data : translated)
                add(data, chunk.done ? stream_event::kind::usage_chunk : stream_event::kind::chunk);
        } else {
            add(ev.data,
                chunk.usage && !chunk.has_choice ? stream_event::kind::usage_chunk
                                                 : stream_event::kind::chunk);
        }
        if (!forwarded.empty())
            forwarded.front().delta_bytes = static_cast<std::uint32_t>(
                chunk.content.size() + chunk.reasoning.size() + chunk.refusal.size()
            );
    }

    /// After a chunk's text went out: what it said of the reply's end.
    void note_end_fields()
    {
        if (!chunk.finish_reason.empty())
            finish_reason = chunk.finish_reason;
        if (chunk.usage)
            usage = chunk.usage;
    }

    /// Feeds the buffered body to the SSE framing; true when nothing was buffered, so the
    /// socket must be read. Events just fed go out before that read, which may wait long.
    bool feed_buffered(response_parser& parser, beast::flat_buffer& in)
    {
        const auto step = parse_buffered(parser, in, body);
        if (step.body_bytes > 0)
            events.feed(std::string_view(body.data(), step.body_bytes));
        if (step.ec) {
            read_error = step.ec;
            return false;
        }
        return step.need_input && step.body_bytes == 0;
    }

    /// A read of the socket ended with `ec`.
    void end_read(response_parser& parser, error_code ec)
    {
        // The end of the connection ends a body that runs to it and cuts any other.
        if (ec == net::error::eof) {
            ec = {};
            parser.put_eof(ec);
        }
        read_error = ec;
    }

    /// Without [DONE], a finish_reason still says the model finished; without either the
    /// reply is cut short, never a clean stop (PROTOCOL.md section 6). Anthropic always
    /// ends with message_stop, so its absence is a cut.
    bool finished_without_done() const { return !finish_reason.empty() && !anthropic; }

    /// The body ended, or its read failed, before the reply was complete.
    attempt_result cut_short(const call_state& c, bool keep_alive) const
    {
        if (!read_error) {
            auto r = failure(
                verdict::fail,
                errc::upstream_error,
                "upstream stream ended before completion",
                status,
                c
            );
            r.reusable = keep_alive;
            return r;
        }
        if (timed_out(read_error, c))
            return timeout_failure(c, status);
        return failure(
            c.token_sent ? verdict::fail : verdict::retry,
            errc::upstream_error,
            "upstream connection lost: " + describe(read_error),
            status,
            c
        );
    }

    const int status;
    const bool anthropic;
    sse::parser events;
    sse::event ev;
    sse::openai_decoder decoder;
    sse::anthropic_decoder anthropic_decoder;
    sse::openai_chunk chunk;
    stream_redactor reasoning_redactor;
    stream_redactor refusal_redactor;
    stream_redactor content_redactor;
    // A chunk's deltas in the order they go out (PROTOCOL.md section 2: reasoning,
    // refusal, token). A named array, not an initializer list: the loop over it spans
    // co_awaits, and GCC 12 mishandles temporaries that do.
    const std::array<text_delta, 3> deltas{
        text_delta{stream_event::kind::reasoning, &chunk.reasoning, &reasoning_redactor},
        text_delta{stream_event::kind::refusal, &chunk.refusal, &refusal_redactor},
        text_delta{stream_event::kind::token, &chunk.content, &content_redactor}};
    std::string finish_reason;
    std::optional<token_usage> usage;
    // A forwarded request: the chunks of the event just read, and the translation of an
    // Anthropic stream into OpenAI chunks.
    std::vector<stream_event> forwarded;
    std::optional<protocol::anthropic_stream_translator> translator;
    std::vector<std::string> translated;
    std::string problem; // chunk_step::failed: why
    std::array<char, 4096> body;
    error_code read_error;
};

} // namespace

template <class Stream>
awaitable<attempt_result>
read_event_stream(Stream& stream, connection& conn, response_parser& parser, call_state& c)
{
    reply_reader r(parser.get().result_int(), c);
    // From here on the read deadline moves with every token: the watchdog holds it
    // instead of the stream's expiry, which would arm a timer for every read.
    conn.expires_never();
    read_watchdog watchdog(conn.socket(), c.read_deadline);

    for (;;) {
        for (chunk_step step; (step = r.next_chunk()) != chunk_step::need_more;) {
            if (step == chunk_step::failed)
                co_return failure(verdict::fail, errc::upstream_error, r.problem, r.status, c);
            if (step == chunk_step::done) {
                // Anthropic's message_stop is where its translation's usage chunk is.
                if (r.translator) {
                    r.forward_event(c);
                    co_await send_forwarded(c, r.forwarded);
                }
                co_await send_held_text(c, r.deltas);
                // Named, not a temporary in the co_await: GCC 12 mishandles class-type
                // temporaries (here a conditional's std::string) inside co_await operands.
                auto fin = stream_event::finished(
                    r.finish_reason.empty() ? std::string("stop") : r.finish_reason, r.usage
                );
                co_await send_event(c, std::move(fin));
                const bool drained = co_await drain_body(stream, conn, parser, c);
                co_return finished(drained && parser.get().keep_alive());
            }
            if (c.forward) {
                c.token_sent = true;
                r.forward_event(c);
                co_await send_forwarded(c, r.forwarded);
                extend_read_deadline(c, watchdog);
                r.note_end_fields();
                continue;
            }
            // Reasoning, refusal, then content, go out from here, through a coroutine only when the
            // channel is full: this runs for every token, and each nested coroutine is one
            // more frame. The events are named: GCC 12 mishandles class-type temporaries in
            // co_await operands.
            for (const auto& d : r.deltas) {
                if (d.text->empty())
                    continue;
                const auto visible = d.redactor->push(*d.text);
                if (visible.empty())
                    continue;
                auto ev = text_event(c, d.kind, visible);
                const auto state = co_await net::this_coro::cancellation_state;
                if (!hand_over(c, ev, state))
                    co_await send_event(c, std::move(ev));
                extend_read_deadline(c, watchdog);
            }
            r.note_end_fields();
        }

        if (parser.is_done() || r.read_error) {
            if (!r.finished_without_done())
                co_return r.cut_short(c, parser.get().keep_alive());
            co_await send_held_text(c, r.deltas);
            auto fin = stream_event::finished(r.finish_reason, r.usage);
            co_await send_event(c, std::move(fin));
            co_return finished(!r.read_error && parser.get().keep_alive());
        }

        // The body is parsed here rather than by http::async_read_some, which costs a
        // composed operation per call and a posted completion whenever it parses
        // without reading: a token chunk took several such calls.
        if (!r.feed_buffered(parser, conn.buffer()))
            continue;
        auto& in = conn.buffer();
        const auto room = in.prepare(beast::read_size(in, 65536));
        error_code ec;
        std::size_t n = 0;
        if (watchdog.fired()) {
            // The deadline passed while no read was waiting for it to cut.
            ec = beast::error::timeout;
        } else {
            // A read after which the kernel holds nothing more makes the next one
            // wait for readiness instead of trying first (draining_read_buffer.hpp).
            const tls_transport::drain_scope draining(conn.transport());
            auto read = with_op_memory(
                body_layer(stream, conn).async_read_some(draining_read_buffer(room), deferred_tuple)
            );
            auto [read_ec, read_n] = co_await std::move(read);
            ec = read_ec;
            n = read_n;
        }
        in.commit(n);
        r.end_read(parser, ec);
    }
}

template awaitable<attempt_result>
read_event_stream(beast::tcp_stream&, connection&, response_parser&, call_state&);
template awaitable<attempt_result>
read_event_stream(tls_stream&, connection&, response_parser&, call_state&);

awaitable<void> send_event(call_state& c, stream_event ev)
{
    const auto state = co_await net::this_coro::cancellation_state;
    if (!hand_over(c, ev, state))
        co_await c.out.async_send(error_code{}, std::move(ev), net::use_awaitable);
}

} // namespace tokenrelay::upstream::detail
