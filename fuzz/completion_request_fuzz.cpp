// Fuzzes the OpenAI-compatible API's request policy and the body it forwards
// (lib/tokenrelay/protocol/completion_request.hpp, forwarded_body.hpp). A hostile body
// must not get past the policy by what the upstream reads differently: every accepted
// body, as forwarded, must parse to the client's object with only the relay's two edits
// (the resolved model, `stream_options.include_usage` when streaming), with each
// top-level member once and the model one the policy allowed. A refusal carries a
// status of 400 or 413 and, for a 400 past JSON decoding, the parameter it names.
#include <tokenrelay/protocol/completion_request.hpp>
#include <tokenrelay/protocol/forwarded_body.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
using namespace tokenrelay;
using namespace tokenrelay::protocol;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "completion_request_fuzz: %s\n", what);
        std::abort();
    }
}

const frame_limits& limits()
{
    static const frame_limits l = [] {
        frame_limits v;
        v.allowed_models = {"m1", "m2"};
        v.max_body_bytes = 4096;
        v.max_image_bytes = 1024;
        return v;
    }();
    return l;
}

void check_forwarded(std::string_view input, const completion_request& req)
{
    check(req.request.forward.has_value(), "an accepted body is forwarded");
    const auto& body = req.request.forward->body;
    boost::system::error_code ec;
    const auto sent = json::parse(body, ec);
    check(!ec && sent.is_object(), "the forwarded body is a JSON object");
    const auto original = json::parse(input).as_object();
    const auto& out = sent.get_object();

    const auto members = top_level_members(body);
    check(members && members->size() == out.size(), "each member is forwarded once");
    std::set<std::string> keys;
    for (const auto& m : *members)
        check(keys.insert(m.key).second, "no member is forwarded twice");

    check(out.contains("model") && out.at("model").is_string(), "a model is forwarded");
    const auto& model = out.at("model").get_string();
    check(model == req.request.model, "the forwarded model is the one the policy read");
    check(
        std::find(limits().allowed_models.begin(), limits().allowed_models.end(), model) !=
            limits().allowed_models.end(),
        "the forwarded model is allowed"
    );
    if (req.stream) {
        const auto* so = out.if_contains("stream_options");
        check(
            so && so->is_object() && so->get_object().contains("include_usage") &&
                so->get_object().at("include_usage") == json::value(true),
            "a stream asks for usage"
        );
    }
    for (const auto& [key, value] : out) {
        if (key == "model" || (req.stream && key == "stream_options"))
            continue;
        check(original.contains(key) && original.at(key) == value, "other members are unchanged");
    }
    for (const auto& [key, value] : original)
        check(out.contains(key), "no member is dropped");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto how = size > 0 && data[0] % 2 ? upstream_body::translate : upstream_body::forward;
    auto r = parse_completion_request(input, limits(), "m1", how);
    if (const auto* err = std::get_if<completion_error>(&r)) {
        check(err->status == 400 || err->status == 413, "a refusal is a 400 or a 413");
        if (err->code != errc::bad_json && err->status == 400)
            check(!err->message.empty(), "a refusal says why");
        return 0;
    }
    const auto& req = std::get<completion_request>(r);
    if (how == upstream_body::forward)
        check_forwarded(input, req);
    else
        check(!req.request.forward, "a translated request is not forwarded");
    return 0;
}
