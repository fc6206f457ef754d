#pragma once
// State shared by every event loop of the relay, and what each loop owns.

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/drain_watch.hpp>
#include <tokenrelay/core/large_message_budget.hpp>
#include <tokenrelay/core/loop_stop.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/runtime/connection_set.hpp>
#include <tokenrelay/session/registry.hpp>
#include <tokenrelay/store/shared_store.hpp>
#include <tokenrelay/upstream/model_source.hpp>
#include <tokenrelay/upstream/request_slots.hpp>

#include <atomic>
#include <string>

namespace tokenrelay::runtime {

struct relay_state
{
    explicit relay_state(config::relay_config cfg);

    const config::relay_config config;
    // Before session_settings and connections, which point to them.
    upstream::request_slots upstream_slots;
    std::unique_ptr<store::shared_store> store; // --store redis://…; null: memory
    drain_watch drain; // told of every generation, completion and connection that ends
    const session::session_settings session_settings;
    const protocol::frame_limits frame_limits;
    session::registry sessions;
    connection_set connections{drain};
    std::atomic<bool> draining{false};
    // What WebSocket messages past --max-message-bytes (a chat's images) hold at once:
    // four chats' worth of --max-image-bytes.
    large_message_budget large_messages{4 * config.max_image_bytes};
};

/// One event loop: its executor, the model source whose connections live on it, and the
/// drain's deadline for the completion requests it answers.
struct loop_context
{
    loop_context(loop_executor ex, upstream::model_source& src)
        : executor(ex), source(src), stop(ex)
    {}

    loop_executor executor;
    upstream::model_source& source;
    loop_stop stop;
};

} // namespace tokenrelay::runtime
