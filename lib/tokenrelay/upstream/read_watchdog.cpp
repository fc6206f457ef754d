#include <tokenrelay/upstream/read_watchdog.hpp>

namespace tokenrelay::upstream {

struct read_watchdog::state
{
    state(tcp::socket& s, const clock::time_point& d)
        : timer(s.get_executor()), socket(&s), deadline(&d)
    {}

    net::steady_timer timer;
    tcp::socket* socket; // null once the watchdog is gone
    const clock::time_point* deadline;
    bool fired = false;
};

read_watchdog::read_watchdog(tcp::socket& socket, const clock::time_point& deadline)
    : state_(std::make_shared<state>(socket, deadline))
{
    arm(state_);
}

read_watchdog::~read_watchdog()
{
    state_->socket = nullptr;
    state_->timer.cancel();
}

void read_watchdog::deadline_moved()
{
    // Later deadlines wait for the timer to fire early; only an earlier one re-arms it,
    // or a later one after the timer fired: it may have fired while no read was waiting
    // (the reader was waiting for room to send a token), and the reads to come still
    // need a deadline.
    if (*state_->deadline < state_->timer.expiry() ||
        (state_->fired && clock::now() < *state_->deadline)) {
        state_->fired = false;
        arm(state_);
    }
}

bool read_watchdog::fired() const noexcept
{
    return state_->fired;
}

void read_watchdog::arm(const std::shared_ptr<state>& s)
{
    s->timer.expires_at(*s->deadline);
    s->timer.async_wait([s](const error_code& ec) {
        if (ec || !s->socket)
            return;
        if (clock::now() < *s->deadline) {
            arm(s);
            return;
        }
        s->fired = true;
        error_code ignored;
        s->socket->cancel(ignored);
    });
}

} // namespace tokenrelay::upstream
