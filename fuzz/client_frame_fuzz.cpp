// Fuzzes client frame decoding (lib/tokenrelay/protocol/client_frame.hpp) with the relay's
// default limits. Every accepted frame must satisfy PROTOCOL.md section 2's rules, every
// refusal must carry one of the three decoding codes, and an accepted frame written back
// as JSON must decode to the same frame.
#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/protocol/server_frame.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using namespace tokenrelay;
using namespace tokenrelay::protocol;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "client_frame_fuzz: %s\n", what);
        std::abort();
    }
}

std::size_t utf8_chars(std::string_view s)
{
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

const frame_limits& limits()
{
    static const frame_limits l = [] {
        frame_limits v;
        v.allowed_models = {"deepseek-v3.2", "gpt-4o-mini"};
        return v;
    }();
    return l;
}

void check_chat(const chat_frame& f)
{
    check(!f.content.empty(), "chat: empty content accepted");
    check(f.content.size() <= limits().max_content_bytes, "chat: content over the limit");
    check(utf8_chars(f.id) <= 64, "chat: id over 64 characters");
    if (f.context) {
        check(f.context->size() <= limits().max_context_messages, "chat: context too long");
        std::size_t total = 0;
        for (const auto& turn : *f.context) {
            check(
                turn.role == "system" || turn.role == "user" || turn.role == "assistant",
                "chat: unknown role accepted"
            );
            total += turn.content.size();
        }
        check(total <= limits().max_context_bytes, "chat: context bytes over the limit");
    }
    const auto& o = f.options;
    if (o.model) {
        const auto& allowed = limits().allowed_models;
        check(
            std::find(allowed.begin(), allowed.end(), *o.model) != allowed.end(),
            "chat: model outside the allow-list"
        );
    }
    if (o.temperature)
        check(*o.temperature >= 0.0 && *o.temperature <= 2.0, "chat: temperature out of range");
    if (o.max_tokens) {
        check(
            *o.max_tokens >= 1 && *o.max_tokens <= limits().max_tokens_ceiling,
            "chat: max_tokens out of range"
        );
    }
}

// The frame as a client would send it: decoding this must give the frame back.
std::string encode(const client_frame& frame)
{
    json::object o;
    if (const auto* chat = std::get_if<chat_frame>(&frame)) {
        o["type"] = "chat";
        o["content"] = chat->content;
        if (!chat->id.empty())
            o["id"] = chat->id;
        if (chat->context) {
            json::array turns;
            for (const auto& t : *chat->context)
                turns.push_back(json::object{{"role", t.role}, {"content", t.content}});
            o["context"] = std::move(turns);
        }
        json::object options;
        if (chat->options.model)
            options["model"] = *chat->options.model;
        if (chat->options.temperature)
            options["temperature"] = *chat->options.temperature;
        if (chat->options.max_tokens)
            options["max_tokens"] = *chat->options.max_tokens;
        if (!options.empty())
            o["options"] = std::move(options);
    } else if (const auto* cancel = std::get_if<cancel_frame>(&frame)) {
        o["type"] = "cancel";
        if (!cancel->id.empty())
            o["id"] = cancel->id;
    } else if (const auto* ping = std::get_if<ping_frame>(&frame)) {
        // Raw text, as the client's number was. Boost.JSON 1.81 reads a few numbers as
        // non-finite doubles (1e999 as infinity, 0e999 as NaN) and serialises those as
        // "Infinity" or "NaN", which are not JSON: they are written back as such numbers.
        std::string text = R"({"type":"ping")";
        if (!ping->timestamp.empty()) {
            text += R"(,"timestamp":)";
            if (ping->timestamp == "Infinity")
                text += "1e999";
            else if (ping->timestamp == "-Infinity")
                text += "-1e999";
            else if (ping->timestamp == "NaN")
                text += "0e999";
            else
                text += ping->timestamp;
        }
        return text + '}';
    } else if (std::holds_alternative<history_frame>(frame)) {
        o["type"] = "history";
    } else {
        const auto& resume = std::get<resume_frame>(frame);
        o["type"] = "resume";
        o["session"] = resume.session;
        o["last_seq"] = resume.last_seq;
    }
    return json::serialize(o);
}

// Boost.JSON 1.81 parses doubles to within an ulp or so (no exact mode; long mantissas
// such as 0.00000004000000000000000000000000000009 land a step off), so a double written
// back may come back one step off; integers must come back exactly.
bool close(double x, double y)
{
    return x == y || std::abs(x - y) <= 1e-15 * std::max(std::abs(x), std::abs(y));
}

bool close(const std::optional<double>& x, const std::optional<double>& y)
{
    return x.has_value() == y.has_value() && (!x || close(*x, *y));
}

bool same_number(const std::string& a, const std::string& b)
{
    if (a == b)
        return true;
    boost::system::error_code ec_a;
    boost::system::error_code ec_b;
    const json::value x = json::parse(a, ec_a);
    const json::value y = json::parse(b, ec_b);
    if (ec_a || ec_b || !x.is_double() || !y.is_double())
        return false;
    return close(x.get_double(), y.get_double());
}

bool same(const client_frame& a, const client_frame& b)
{
    if (a.index() != b.index())
        return false;
    if (const auto* x = std::get_if<chat_frame>(&a)) {
        const auto& y = std::get<chat_frame>(b);
        return x->content == y.content && x->context == y.context && x->id == y.id &&
               x->options.model == y.options.model &&
               close(x->options.temperature, y.options.temperature) &&
               x->options.max_tokens == y.options.max_tokens;
    }
    if (const auto* x = std::get_if<cancel_frame>(&a))
        return x->id == std::get<cancel_frame>(b).id;
    if (const auto* x = std::get_if<ping_frame>(&a))
        return same_number(x->timestamp, std::get<ping_frame>(b).timestamp);
    if (std::holds_alternative<history_frame>(a))
        return true;
    const auto& x = std::get<resume_frame>(a);
    const auto& y = std::get<resume_frame>(b);
    return x.session == y.session && x.last_seq == y.last_seq;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(bytes), size);
    const decode_result result = decode_client_frame(text, limits());

    boost::system::error_code ec;
    const json::value parsed = json::parse(text, ec);

    if (const auto* err = std::get_if<decode_error>(&result)) {
        check(
            err->code == errc::bad_json || err->code == errc::bad_request ||
                err->code == errc::unknown_type,
            "refusal with a code decoding cannot produce"
        );
        check(!err->message.empty(), "refusal without a message");
        check(utf8_chars(err->id) <= 64, "refusal echoes an id over 64 characters");
        check((err->code == errc::bad_json) == (ec || !parsed.is_object()), "bad_json misused");
        return 0;
    }

    check(!ec && parsed.is_object(), "frame accepted from text that is not a JSON object");
    const auto& frame = std::get<client_frame>(result);
    if (const auto* chat = std::get_if<chat_frame>(&frame)) {
        check_chat(*chat);
    } else if (const auto* cancel = std::get_if<cancel_frame>(&frame)) {
        check(utf8_chars(cancel->id) <= 64, "cancel: id over 64 characters");
    } else if (const auto* ping = std::get_if<ping_frame>(&frame)) {
        const json::value* sent = parsed.get_object().if_contains("timestamp");
        check((sent != nullptr) == !ping->timestamp.empty(), "ping: timestamp lost or invented");
        json::value kept;
        if (sent) {
            kept = json::parse(ping->timestamp, ec);
            // Only a non-finite double may come out as non-JSON ("Infinity", "NaN").
            const bool non_finite = sent->is_double() && !std::isfinite(sent->get_double());
            check(!ec || non_finite, "ping: timestamp kept as something not a number");
            check(ec || kept.is_number(), "ping: timestamp kept as something not a number");
            if (!sent->is_double())
                check(kept == *sent, "ping: integer timestamp changed");
        }
        // The pong echoes it (PROTOCOL.md section 2) and stays valid JSON whatever it is.
        std::string pong;
        append_pong_frame(pong, 1, ping->timestamp);
        const json::value answer = json::parse(pong, ec);
        check(!ec && answer.is_object(), "pong is not a JSON object");
        const auto* echoed = answer.get_object().if_contains("client_timestamp");
        if (kept.is_null())
            check(echoed == nullptr, "pong echoes a timestamp it does not have");
        else
            check(echoed && *echoed == kept, "pong changed the timestamp");
    } else if (std::holds_alternative<history_frame>(frame)) {
        // Nothing to check: it has no fields.
    } else {
        const auto& resume = std::get<resume_frame>(frame);
        check(!resume.session.empty(), "resume: empty session accepted");
        check(utf8_chars(resume.session) <= 128, "resume: session over 128 characters");
    }

    const decode_result again = decode_client_frame(encode(frame), limits());
    const auto* round_trip = std::get_if<client_frame>(&again);
    check(round_trip != nullptr, "an accepted frame, written back, is refused");
    check(same(frame, *round_trip), "an accepted frame, written back, decodes differently");
    return 0;
}
