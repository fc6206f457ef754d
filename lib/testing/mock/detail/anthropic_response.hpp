#pragma once
// The mock's Anthropic Messages API mode (docs/mock_upstream.md, "Anthropic mode"): the same
// directives as chat completions, answered in Anthropic's error and streaming formats.

#include <testing/mock/detail/connection.hpp>

namespace tokenrelay::mock::detail {

/// Answers one `POST .../messages` request.
template <class Stream>
awaitable<after_response>
respond_messages(Stream& s, beast::flat_buffer& buf, const request& req, server_state& st);

} // namespace tokenrelay::mock::detail
