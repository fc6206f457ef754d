#include <boost/json/serialize.hpp>

#include <charconv>
#include <limits>
#include <testing/mock/directives.hpp>

namespace tokenrelay::mock {
namespace {

constexpr std::string_view prefix = "mock:";

bool is_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::optional<std::size_t> parse_size(std::string_view s) noexcept
{
    std::size_t v = 0;
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || p != end)
        return std::nullopt;
    return v;
}

// HTTP status codes are three digits (RFC 9110 section 15); Beast refuses anything above 999.
std::optional<unsigned> parse_status(std::string_view s) noexcept
{
    auto v = parse_size(s);
    if (!v || *v < 100 || *v > 999)
        return std::nullopt;
    return static_cast<unsigned>(*v);
}

// Applies one directive (the text after "mock:"); false when it is not understood.
bool apply(std::string_view word, plan& p)
{
    const auto eq = word.find('=');
    const auto name = word.substr(0, eq);
    if (eq == std::string_view::npos) {
        bool* flag = nullptr;
        if (name == "stall")
            flag = &p.stall;
        else if (name == "never_answer")
            flag = &p.never_answer;
        else if (name == "malformed")
            flag = &p.malformed;
        else if (name == "error_event")
            flag = &p.error_event;
        else if (name == "no_done")
            flag = &p.no_done;
        else if (name == "bytewise")
            flag = &p.bytewise;
        else if (name == "no_usage")
            flag = &p.no_usage;
        else if (name == "usage_null_choices")
            flag = &p.usage_null_choices;
        else if (name == "parts")
            flag = &p.parts;
        else if (name == "groq_usage")
            flag = &p.groq_usage;
        else if (name == "refusal")
            flag = &p.refusal;
        else if (name == "echo")
            flag = &p.echo;
        else if (name == "empty_deltas")
            flag = &p.empty_deltas;
        else if (name == "comments")
            flag = &p.comments;
        else if (name == "echo_auth_error")
            flag = &p.echo_auth_error;
        else if (name == "stamp")
            flag = &p.stamp;
        else if (name == "tool_call")
            flag = &p.tool_call;
        if (!flag)
            return false;
        *flag = true;
        return true;
    }

    const auto value = word.substr(eq + 1);
    if (name == "lineend") {
        if (value == "crlf")
            p.lineend = line_end::crlf;
        else if (value == "cr")
            p.lineend = line_end::cr;
        else if (value == "lf")
            p.lineend = line_end::lf;
        else
            return false;
        return true;
    }
    if (name == "finish") {
        if (value.empty())
            return false;
        p.finish = std::string(value);
        p.finish_given = true;
        return true;
    }
    if (name == "status" || name == "fail_status") {
        auto code = parse_status(value);
        if (!code)
            return false;
        if (name == "status")
            p.status = *code;
        else
            p.fail_status = *code;
        return true;
    }

    const auto n = parse_size(value);
    if (!n)
        return false;
    if (name == "tokens")
        p.tokens = *n;
    else if (name == "interval" || name == "linger") {
        if (*n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            return false;
        (name == "interval" ? p.interval : p.linger) = std::chrono::milliseconds(*n);
    } else if (name == "fail_first")
        p.fail_first = *n;
    else if (name == "retry_after")
        p.retry_after = *n;
    else if (name == "stall_after")
        p.stall_after = *n;
    else if (name == "disconnect_after")
        p.disconnect_after = *n;
    else if (name == "reasoning")
        p.reasoning = *n;
    else if (name == "huge")
        p.huge = *n;
    else if (name == "echo_key" && *n > 0)
        p.echo_key = *n;
    else if (name == "nonewline")
        p.nonewline = *n;
    else
        return false;
    return true;
}

std::size_t count_code_points(std::string_view s) noexcept
{
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

bool is_true(const boost::json::object& o, std::string_view key) noexcept
{
    const auto* v = o.if_contains(key);
    return v && v->is_bool() && v->get_bool();
}

// `tools[0].function.name`, when the request has it as a string.
std::optional<std::string> first_tool_name(const boost::json::object& o)
{
    const auto* tools = o.if_contains("tools");
    const auto* list = tools ? tools->if_array() : nullptr;
    if (!list || list->empty())
        return std::nullopt;
    const auto* tool = list->front().if_object();
    const auto* function = tool ? tool->if_contains("function") : nullptr;
    const auto* fo = function ? function->if_object() : nullptr;
    const auto* name = fo ? fo->if_contains("name") : nullptr;
    if (!name || !name->is_string())
        return std::nullopt;
    return std::string(name->get_string());
}

std::string content_text(const boost::json::value& content)
{
    if (const auto* s = content.if_string())
        return std::string(s->data(), s->size());
    std::string out;
    if (const auto* parts = content.if_array()) {
        for (const auto& part : *parts) {
            const auto* o = part.if_object();
            const auto* text = o ? o->if_contains("text") : nullptr;
            if (text && text->is_string())
                out += std::string_view(text->get_string());
        }
    }
    return out;
}

} // namespace

plan parse_directives(std::string_view content, plan defaults)
{
    plan p = std::move(defaults);
    std::size_t i = 0;
    while (i < content.size()) {
        while (i < content.size() && is_space(content[i]))
            ++i;
        const auto start = i;
        while (i < content.size() && !is_space(content[i]))
            ++i;
        const auto word = content.substr(start, i - start);
        if (word.size() > prefix.size() && word.starts_with(prefix)) {
            if (!apply(word.substr(prefix.size()), p))
                p.ignored.emplace_back(word);
        }
    }
    return p;
}

std::optional<chat_input> parse_chat_input(const boost::json::value& body)
{
    const auto* o = body.if_object();
    if (!o)
        return std::nullopt;
    const auto* messages = o->if_contains("messages");
    if (!messages || !messages->is_array())
        return std::nullopt;

    chat_input in;
    if (const auto* model = o->if_contains("model"))
        in.model_json = boost::json::serialize(*model);
    in.messages_json = boost::json::serialize(*messages);
    in.stream = is_true(*o, "stream");
    in.logprobs = is_true(*o, "logprobs");
    if (auto name = first_tool_name(*o))
        in.tool_name = std::move(*name);
    for (const auto& m : messages->get_array()) {
        const auto* mo = m.if_object();
        const auto* content = mo ? mo->if_contains("content") : nullptr;
        std::string text = content ? content_text(*content) : std::string{};
        in.prompt_chars += count_code_points(text);
        in.last_content = std::move(text);
        const auto* role = mo ? mo->if_contains("role") : nullptr;
        in.last_role = role && role->is_string() ? std::string(role->get_string()) : std::string{};
    }
    return in;
}

std::size_t prompt_tokens(std::size_t prompt_chars) noexcept
{
    const auto p = prompt_chars / 4;
    return p == 0 ? 1 : p;
}

} // namespace tokenrelay::mock
