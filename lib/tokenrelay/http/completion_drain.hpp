#pragma once
// The completion requests being answered in this process, for the drain (PROTOCOL.md
// section 2, SIGTERM). A completion has no session, so the drain cannot find it through
// the registry; it finds it here. completions.hpp declares what the server calls:
// completions_in_flight() and stop_completions().

#include <tokenrelay/core/net.hpp>

#include <memory>

namespace tokenrelay::http_server {

/// Lets the drain end one completion at its deadline. Touched only on the completion's
/// own loop: stop_completions() posts there.
struct stopper
{
    explicit stopper(net::any_io_executor ex) : timer(std::move(ex)) {}

    net::steady_timer timer;
    bool stopped = false;
};

/// One completion's membership of the set in flight, for as long as it is answered.
class in_flight_entry
{
public:
    explicit in_flight_entry(net::any_io_executor ex);
    in_flight_entry(const in_flight_entry&) = delete;
    in_flight_entry& operator=(const in_flight_entry&) = delete;
    ~in_flight_entry();

    stopper& get() const noexcept { return *stopper_; }

private:
    std::shared_ptr<stopper> stopper_;
};

/// Completes once stop_completions() has reached this completion.
awaitable<void> wait_for_stop(stopper& s);

} // namespace tokenrelay::http_server
