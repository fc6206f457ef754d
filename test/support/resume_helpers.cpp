#include "support/resume_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <sstream>

namespace tokenrelay::test {

json::object chat_frame(std::string content)
{
    return {{"type", "chat"}, {"content", std::move(content)}};
}

json::object chat_frame(std::string content, json::array context)
{
    auto f = chat_frame(std::move(content));
    f["context"] = std::move(context);
    return f;
}

json::object turn(std::string_view role, std::string_view content)
{
    return {{"role", role}, {"content", content}};
}

std::string mock_words(int n)
{
    std::string s;
    for (int i = 0; i < n; ++i)
        s += "w" + std::to_string(i) + " ";
    return s;
}

std::int64_t word_count(std::string_view text)
{
    return std::count(text.begin(), text.end(), ' ');
}

std::string resume_target(std::string_view session, std::int64_t last_seq)
{
    return "/ws?session=" + std::string(session) + "&last_seq=" + std::to_string(last_seq);
}

json::object resume_frame(std::string_view session, std::int64_t last_seq)
{
    return {{"type", "resume"}, {"session", session}, {"last_seq", last_seq}};
}

json::value echoed_messages(const reply& r)
{
    error_code ec;
    auto v = json::parse(r.text, ec);
    BOOST_TEST_REQUIRE(!ec, "mock:echo reply is not JSON: " << r.text);
    return v;
}

bool seq_follower::feed(const json::object& frame)
{
    std::ostringstream problem;
    const auto* type = frame.if_contains("type");
    const auto* seq = frame.if_contains("seq");
    const auto* id = frame.if_contains("id");
    if (!type || !type->is_string()) {
        problem << "frame without type: " << frame;
    } else if (end_) {
        problem << "frame after stream_end: " << frame;
    } else if (type->as_string() == "user") {
        // Section 2: the chat's user frame comes first and takes one seq.
        if (!seq || !seq->is_int64() || seq->as_int64() != last_seq_ + 1 || !words_.empty())
            problem << "user frame " << frame << " after seq " << last_seq_;
        else
            last_seq_ = seq->as_int64();
    } else if (type->as_string() == "token" || type->as_string() == "stream_end") {
        const bool is_end = type->as_string() == "stream_end";
        if (!seq || !seq->is_int64() || !id || !id->is_string()) {
            problems_.push_back(
                "frame without integer seq or string id: " + json::serialize(frame)
            );
            if (is_end)
                end_ = frame;
            return is_end;
        }
        if (message_id_.empty())
            message_id_ = std::string(id->as_string());
        else if (id->as_string() != message_id_)
            problem << "id changed from " << message_id_ << ": " << frame << "; ";
        const auto s = seq->as_int64();
        if (!is_end) {
            const auto* content = frame.if_contains("content");
            const std::string_view text =
                content && content->is_string() ? std::string_view(content->as_string()) : "";
            const auto n = word_count(text);
            if (n == 0 || text.back() != ' ')
                problem << "token frame that is not whole mock words: " << frame;
            else if (s != last_seq_ + n)
                problem << "token frame " << frame << " after seq " << last_seq_ << " carries " << n
                        << " words";
            std::int64_t at = last_seq_;
            std::size_t start = 0;
            for (std::size_t i = 0; i < text.size(); ++i) {
                if (text[i] == ' ') {
                    words_.emplace_back(++at, std::string(text.substr(start, i + 1 - start)));
                    start = i + 1;
                }
            }
            last_seq_ = std::max(last_seq_, s);
        } else {
            if (s != last_seq_ + 1)
                problem << "stream_end " << frame << " after seq " << last_seq_;
            last_seq_ = s;
            end_ = frame;
        }
    } else {
        problem << "unexpected frame in a stream: " << frame;
    }
    if (const auto p = problem.str(); !p.empty())
        problems_.push_back(p);
    return end_.has_value();
}

bool seq_follower::read_words(ws_client& ws, std::int64_t words)
{
    while (words_.size() < static_cast<std::size_t>(words)) {
        if (feed(ws.read()))
            return true;
    }
    return false;
}

void seq_follower::read_to_end(ws_client& ws)
{
    while (!feed(ws.read())) {
    }
}

void seq_follower::rewind(std::int64_t seq)
{
    while (!words_.empty() && words_.back().first > seq)
        words_.pop_back();
    if (end_ && integer(*end_, "seq") > seq)
        end_.reset();
    last_seq_ = seq;
}

std::string seq_follower::text() const
{
    std::string s;
    for (const auto& w : words_)
        s += w.second;
    return s;
}

const json::object& seq_follower::end() const
{
    BOOST_TEST_REQUIRE(end_.has_value(), "no stream_end yet");
    return *end_;
}

void seq_follower::check_clean() const
{
    std::ostringstream all;
    for (const auto& p : problems_)
        all << "\n  " << p;
    BOOST_TEST(problems_.empty(), "seq problems:" << all.str());
}

void check_resumed(const json::object& frame, std::string_view session, std::int64_t last_seq)
{
    BOOST_TEST(string_of(frame, "type") == "session", "frame " << frame);
    BOOST_TEST(string_of(frame, "session") == session, "frame " << frame);
    BOOST_TEST(frame.at("resumed") == json::value(true), "frame " << frame);
    BOOST_TEST(integer(frame, "protocol") == 1);
    // The relay holds at least what the client has seen, and (the current message being
    // in the log, section 3) everything after it.
    BOOST_TEST(integer(frame, "last_seq") >= last_seq, "frame " << frame);
    BOOST_TEST(integer(frame, "first_seq") >= 1, "frame " << frame);
    BOOST_TEST(integer(frame, "first_seq") <= last_seq + 1, "frame " << frame);
}

} // namespace tokenrelay::test
