#include <tokenrelay/upstream/demo_source.hpp>

#include <algorithm>
#include <cctype>

namespace tokenrelay::upstream {
namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

bool has_word(const std::string& text, std::string_view word)
{
    for (auto pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
        const bool start = pos == 0 || !std::isalnum(static_cast<unsigned char>(text[pos - 1]));
        const auto end = pos + word.size();
        const bool stop =
            end == text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
        if (start && stop)
            return true;
    }
    return false;
}

// A short excerpt of the user's message that cannot break the reply's Markdown.
std::string quote(std::string_view message)
{
    std::string out;
    for (char c : message) {
        if (out.size() >= 80) {
            out += "…";
            break;
        }
        out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : (c == '*' || c == '`' ? '\'' : c);
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

constexpr std::string_view greeting =
    "Hello! I am the **demo model** built into tokenrelay, so this page works before any "
    "real model is connected.\n\n"
    "A few things you can try:\n\n"
    "- ask me *what tokenrelay is*\n"
    "- press **Stop** while I am typing to cancel a reply\n"
    "- reload the page mid-reply: the session resumes where it left off\n\n"
    "To talk to a real model, start the relay with `--upstream https://api.deepseek.com/v1` "
    "and set `TOKENRELAY_API_KEY`.";

constexpr std::string_view explanation =
    "**tokenrelay** is a small C++20 relay between your browser and an OpenAI-compatible "
    "model API.\n\n"
    "It does three things:\n\n"
    "1. keeps one WebSocket per browser tab and streams each token as it arrives\n"
    "2. talks HTTPS and server-sent events to the model, with retries before the first "
    "token\n"
    "3. keeps the API key on the server, so it never reaches the page\n\n"
    "Right now you are talking to the built-in demo model; run it with "
    "`--upstream URL` to use a real one.";

} // namespace

demo_source::demo_source(net::any_io_executor executor, std::chrono::milliseconds token_interval)
    : executor_(std::move(executor)), interval_(token_interval)
{}

std::string demo_source::reply_for(const chat_request& request)
{
    const std::string last = request.messages.empty() ? "" : request.messages.back().content;
    const auto text = lower(last);
    if (has_word(text, "tokenrelay") || has_word(text, "relay") || has_word(text, "what") ||
        has_word(text, "how") || has_word(text, "help"))
        return std::string(explanation);
    if (text.empty() || has_word(text, "hi") || has_word(text, "hello") || has_word(text, "hey") ||
        has_word(text, "hallo"))
        return std::string(greeting);
    return "You said: \"" + quote(last) +
           "\". I am only the **demo model** of tokenrelay, so I cannot really answer that, "
           "but here is what happened to your message:\n\n"
           "- the page sent it over a WebSocket as a `chat` frame\n"
           "- the relay streamed this reply back one `token` frame at a time\n\n"
           "Start the relay with `--upstream URL` to get real answers.";
}

std::vector<std::string> demo_source::split_tokens(std::string_view text)
{
    std::vector<std::string> tokens;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
        tokens.emplace_back(text.substr(start, i - start));
    }
    return tokens;
}

awaitable<void> demo_source::stream(chat_request request, event_channel& out)
{
    const auto tokens = split_tokens(reply_for(request));
    std::size_t prompt_chars = 0;
    for (const auto& m : request.messages)
        prompt_chars += m.content.size();

    net::steady_timer timer(executor_);
    for (const auto& t : tokens) {
        timer.expires_after(interval_);
        co_await timer.async_wait(net::use_awaitable);
        stream_event ev;
        ev.type = stream_event::kind::token;
        ev.text = t;
        co_await out.async_send(error_code{}, std::move(ev), net::use_awaitable);
    }
    auto fin = stream_event::finished(
        "stop",
        token_usage{
            std::max<std::int64_t>(1, static_cast<std::int64_t>(prompt_chars / 4)),
            static_cast<std::int64_t>(tokens.size())}
    );
    co_await out.async_send(error_code{}, std::move(fin), net::use_awaitable);
}

} // namespace tokenrelay::upstream
