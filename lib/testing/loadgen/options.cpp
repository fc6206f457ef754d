#include <charconv>
#include <cmath>
#include <testing/loadgen/options.hpp>

namespace tokenrelay::loadgen {
namespace {

template <class T> std::optional<T> parse_number(std::string_view s) noexcept
{
    T v{};
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || p != end)
        return std::nullopt;
    return v;
}

constexpr std::string_view bool_flags[] = {
    "--sse", "--tutorial", "--no-stamp", "--quiet", "--help"};

bool is_bool_flag(std::string_view f)
{
    for (auto b : bool_flags)
        if (f == b)
            return true;
    return false;
}

} // namespace

std::string_view usage()
{
    return R"(usage: loadgen [flags]
  --url URL             ws://HOST:PORT/ws (relay) or, with --sse, http://HOST:PORT/v1/chat/completions
  --sessions N          sessions (connections) to open [100]
  --ramp R              new sessions per second [1000]
  --duration S          seconds the pattern runs after the ramp [10]
  --grace S             extra seconds for replies still streaming at the end [10]
  --mode M              chat | idle | burst | reconnect [chat]
  --tokens N            tokens per reply (mock:tokens) [50]
  --interval-ms MS      delay before each token (mock:interval) [20]
  --think-ms MS         pause between a reply and the next chat [5000]
  --chats-per-session N chat mode: close the connection after N replies (0: chat until the
                        duration ends) [0]; with --think-ms 0 and --chats-per-session 1, each
                        connection opens at the ramp rate, chats once and closes (short chats)
  --ping-interval S     idle mode: seconds between pings [30]
  --rounds N            burst mode: rounds [2]
  --spread-ms MS        burst/reconnect: chats start within this window [1000]
  --drop-after-ms MS    reconnect: drop connections this long after the chats start [1000]
  --resume-deadline S   reconnect: a resumed reply must be complete within S of the drop [10]
  --threads N           event-loop threads [1]
  --per-address N       sessions per source address 127.0.0.x (loopback targets) [4000]
  --relay-pid PID       read CPU and memory of this process (repeat or comma-separate to sum)
  --json FILE           write the report as JSON
  --latency-csv FILE    write the token-latency distribution (ms, cumulative fraction)
  --model NAME          model sent in --sse requests [mock]
  --label TEXT          copied into the report
  --sse                 POST to an OpenAI-compatible endpoint and read SSE directly
  --tutorial            the relay has no session/seq frames (original tutorial protocol)
  --no-stamp            do not ask the mock for send-time stamps (no token latency)
  --quiet               no human-readable table
)";
}

std::string_view pattern_name(pattern p) noexcept
{
    switch (p) {
    case pattern::chat:
        return "chat";
    case pattern::idle:
        return "idle";
    case pattern::burst:
        return "burst";
    case pattern::reconnect:
        return "reconnect";
    }
    return "chat";
}

options_result parse_options(std::span<const std::string_view> args)
{
    options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        auto flag = args[i];
        std::optional<std::string_view> value;
        if (const auto eq = flag.find('='); eq != std::string_view::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        if (is_bool_flag(flag)) {
            if (value)
                return {std::nullopt, std::string(flag) + " takes no value", false};
            if (flag == "--help")
                return {std::nullopt, {}, true};
            if (flag == "--sse")
                o.sse = true;
            else if (flag == "--tutorial")
                o.tutorial = true;
            else if (flag == "--no-stamp")
                o.stamp = false;
            else
                o.quiet = true;
            continue;
        }
        if (!value) {
            if (i + 1 >= args.size())
                return {std::nullopt, std::string(flag) + " needs a value", false};
            value = args[++i];
        }
        const auto v = *value;
        const auto bad = [&](std::string_view what) {
            return options_result{
                std::nullopt,
                std::string(flag) + ": expected " + std::string(what) + ", got " + std::string(v),
                false};
        };
        const auto count = [&](std::size_t& out, std::size_t min) -> bool {
            auto n = parse_number<std::size_t>(v);
            if (!n || *n < min)
                return false;
            out = *n;
            return true;
        };
        const auto seconds = [&](double& out, bool positive) -> bool {
            auto d = parse_number<double>(v);
            if (!d || !std::isfinite(*d) || *d < 0 || (positive && *d == 0))
                return false;
            out = *d;
            return true;
        };

        if (flag == "--url") {
            o.url = std::string(v);
        } else if (flag == "--sessions") {
            if (!count(o.sessions, 1))
                return bad("a positive integer");
        } else if (flag == "--ramp") {
            if (!seconds(o.ramp, true))
                return bad("a positive number");
        } else if (flag == "--duration") {
            if (!seconds(o.duration_s, false))
                return bad("a number of seconds");
        } else if (flag == "--grace") {
            if (!seconds(o.grace_s, false))
                return bad("a number of seconds");
        } else if (flag == "--mode") {
            if (v == "chat")
                o.mode = pattern::chat;
            else if (v == "idle")
                o.mode = pattern::idle;
            else if (v == "burst")
                o.mode = pattern::burst;
            else if (v == "reconnect")
                o.mode = pattern::reconnect;
            else
                return bad("chat, idle, burst or reconnect");
        } else if (flag == "--tokens") {
            if (!count(o.tokens, 1))
                return bad("a positive integer");
        } else if (flag == "--interval-ms") {
            if (!count(o.interval_ms, 0))
                return bad("a non-negative integer");
        } else if (flag == "--think-ms") {
            if (!count(o.think_ms, 0))
                return bad("a non-negative integer");
        } else if (flag == "--chats-per-session") {
            if (!count(o.chats_per_session, 0))
                return bad("a non-negative integer");
        } else if (flag == "--ping-interval") {
            if (!seconds(o.ping_interval_s, true))
                return bad("a positive number of seconds");
        } else if (flag == "--rounds") {
            if (!count(o.rounds, 1))
                return bad("a positive integer");
        } else if (flag == "--spread-ms") {
            if (!count(o.spread_ms, 0))
                return bad("a non-negative integer");
        } else if (flag == "--drop-after-ms") {
            if (!count(o.drop_after_ms, 0))
                return bad("a non-negative integer");
        } else if (flag == "--resume-deadline") {
            if (!seconds(o.resume_deadline_s, true))
                return bad("a positive number of seconds");
        } else if (flag == "--threads") {
            auto n = parse_number<unsigned>(v);
            if (!n || *n < 1 || *n > 64)
                return bad("an integer from 1 to 64");
            o.threads = *n;
        } else if (flag == "--per-address") {
            if (!count(o.per_address, 1))
                return bad("a positive integer");
        } else if (flag == "--relay-pid") {
            auto rest = v;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                auto pid = parse_number<int>(rest.substr(0, comma));
                if (!pid || *pid <= 0)
                    return bad("process ids");
                o.relay_pids.push_back(*pid);
                rest =
                    comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        } else if (flag == "--json") {
            o.json_path = std::string(v);
        } else if (flag == "--latency-csv") {
            o.latency_csv_path = std::string(v);
        } else if (flag == "--model") {
            o.model = std::string(v);
        } else if (flag == "--label") {
            o.label = std::string(v);
        } else {
            return {std::nullopt, "unknown flag " + std::string(flag), false};
        }
    }
    if (o.sse && o.mode != pattern::chat)
        return {std::nullopt, "--sse supports --mode chat only", false};
    if (o.chats_per_session > 0 && o.mode != pattern::chat)
        return {std::nullopt, "--chats-per-session needs --mode chat", false};
    if (o.tutorial && o.mode == pattern::reconnect)
        return {std::nullopt, "--tutorial relays cannot resume: no --mode reconnect", false};
    return {o, {}, false};
}

} // namespace tokenrelay::loadgen
