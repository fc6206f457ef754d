#pragma once
// State shared by every event loop of the relay, and what each loop owns.

#include <tokenrelay/config/config.hpp>
#include <tokenrelay/core/net.hpp>
#include <tokenrelay/protocol/client_frame.hpp>
#include <tokenrelay/session/registry.hpp>
#include <tokenrelay/upstream/model_source.hpp>
#include <tokenrelay/upstream/request_slots.hpp>
#include <tokenrelay/ws/connection_set.hpp>
#include <tokenrelay/ws/drain_watch.hpp>

#include <atomic>
#include <string>

namespace tokenrelay::ws {

struct relay_state
{
    explicit relay_state(config::relay_config cfg);

    const config::relay_config config;
    upstream::request_slots upstream_slots; // before session_settings, which points to it
    const session::session_settings session_settings;
    const protocol::frame_limits frame_limits;
    session::registry sessions;
    drain_watch drain; // before connections, which tell it of every connection that goes
    connection_set connections{drain};
    std::atomic<bool> draining{false};
};

/// One event loop: its executor and the model source whose connections live on it.
struct loop_context
{
    loop_executor executor;
    upstream::model_source& source;
};

} // namespace tokenrelay::ws
