#include <tokenrelay/core/log.hpp>
#include <tokenrelay/metrics/metrics.hpp>
#include <tokenrelay/store/redis_connection.hpp>

#include <algorithm>
#include <array>

namespace tokenrelay::store {

namespace {

constexpr std::size_t read_chunk = 64 * 1024;

// The watchdog looks this often for a round or a connect that ran past the reply
// timeout: a quarter of it, so a stuck store is noticed at most 25 % late.
std::chrono::milliseconds tick_period(const connection_timing& t)
{
    return std::max(std::chrono::milliseconds(10), t.reply_timeout / 4);
}

} // namespace

std::shared_ptr<redis_connection> redis_connection::make(
    net::any_io_executor executor, redis_endpoint endpoint, connection_timing timing
)
{
    return std::shared_ptr<redis_connection>(
        new redis_connection(std::move(executor), std::move(endpoint), timing)
    );
}

redis_connection::redis_connection(
    net::any_io_executor executor, redis_endpoint endpoint, connection_timing timing
)
    : executor_(executor), endpoint_(std::move(endpoint)), timing_(timing), socket_(executor),
      wake_(executor), tick_(executor), pause_(executor)
{}

redis_connection::~redis_connection() = default;

void redis_connection::start()
{
    connecting_ = true; // requests from now on wait for the first attempt
    net::co_spawn(executor_, run(shared_from_this()), log::task_failure{"store connection"});
    net::co_spawn(executor_, watchdog(shared_from_this()), log::task_failure{"store watchdog"});
}

void redis_connection::stop()
{
    stopped_ = true;
    drop(connection_error::stopped, "stopped");
    tick_.cancel();
    pause_.cancel();
    wake_.cancel();
    fail_all(connection_error::stopped, connection_error::stopped);
}

void redis_connection::submit(
    redis_request request, net::any_completion_handler<reply_signature> handler
)
{
    // While a connection attempt runs a request waits for it (bounded by the reply
    // timeout, as any); between attempts the store is down and it fails at once.
    if (stopped_ || (!up_ && !connecting_) || request.empty()) {
        const error_code ec = request.empty() ? error_code{}
                              : stopped_      ? make_error_code(connection_error::stopped)
                                              : make_error_code(connection_error::down);
        net::post(executor_, [h = std::move(handler), ec]() mutable {
            std::move(h)(ec, std::vector<resp_value>{});
        });
        return;
    }
    outbox_ += request.bytes();
    queued_.push_back(pending{request.replies(), {}, std::move(handler)});
    // Group commit: a round in flight takes what queues meanwhile when it ends.
    if (waiting_.empty())
        wake_.cancel();
}

void redis_connection::set_up(bool up)
{
    if (up_ == up)
        return;
    up_ = up;
    if (up)
        log::info("store_up", {{"host", endpoint_.host}, {"port", std::to_string(endpoint_.port)}});
    else
        log::warn("store_down", {{"host", endpoint_.host}, {"reason", last_failure_}});
    if (on_state_change_)
        on_state_change_(up);
}

void redis_connection::fail_all(error_code waiting, error_code queued)
{
    // Handlers may submit again; take the queues first so they see a clean state.
    auto w = std::move(waiting_);
    auto q = std::move(queued_);
    waiting_.clear();
    queued_.clear();
    outbox_.clear();
    for (auto& p : w)
        std::move(p.handler)(waiting, std::vector<resp_value>{});
    for (auto& p : q)
        std::move(p.handler)(queued, std::vector<resp_value>{});
}

void redis_connection::drop(connection_error why, std::string detail)
{
    if (connected_ || connecting_) {
        drop_reason_ = why;
        last_failure_ = std::move(detail);
    }
    connected_ = false;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    wake_.cancel();
}

template <class Buffers>
awaitable<std::pair<error_code, std::size_t>> redis_connection::write(const Buffers& b)
{
    if (tls_) {
        auto [ec, n] = co_await net::async_write(*tls_, b, use_tuple);
        co_return std::pair{ec, n};
    }
    auto [ec, n] = co_await net::async_write(socket_, b, use_tuple);
    co_return std::pair{ec, n};
}

awaitable<std::pair<error_code, std::size_t>> redis_connection::read_some(net::mutable_buffer b)
{
    if (tls_) {
        auto [ec, n] = co_await tls_->async_read_some(b, use_tuple);
        co_return std::pair{ec, n};
    }
    auto [ec, n] = co_await socket_.async_read_some(b, use_tuple);
    co_return std::pair{ec, n};
}

awaitable<error_code> redis_connection::connect_once()
{
    connecting_ = true;
    connect_started_ = std::chrono::steady_clock::now();
    reader_.reset();
    socket_ = tcp::socket(executor_);
    tls_.reset();

    tcp::resolver resolver(executor_);
    auto [rec, results] =
        co_await resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), use_tuple);
    if (rec) {
        last_failure_ = "resolve " + endpoint_.host + ": " + rec.message();
        co_return rec;
    }
    auto [cec, ep] = co_await net::async_connect(socket_, results, use_tuple);
    if (cec) {
        last_failure_ = "connect " + endpoint_.host + ":" + std::to_string(endpoint_.port) + ": " +
                        cec.message();
        co_return cec;
    }
    socket_.set_option(tcp::no_delay(true));
    if (endpoint_.tls) {
        tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *endpoint_.tls);
        tls_->set_verify_mode(ssl::verify_peer);
        tls_->set_verify_callback(ssl::host_name_verification(endpoint_.host));
        SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.host.c_str());
        auto [hec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            last_failure_ = "TLS handshake with " + endpoint_.host + ": " + hec.message();
            co_return hec;
        }
    }

    // Who we are and which database, before any request of a user goes out.
    redis_request hello;
    if (!endpoint_.password.empty()) {
        if (endpoint_.username.empty())
            hello.push({"AUTH", endpoint_.password});
        else
            hello.push({"AUTH", endpoint_.username, endpoint_.password});
    }
    if (endpoint_.db != 0)
        hello.push({"SELECT", std::to_string(endpoint_.db)});
    hello.push({"CLIENT", "SETNAME", "tokenrelay"});
    auto [wec, wn] = co_await write(net::buffer(hello.bytes()));
    if (wec) {
        last_failure_ = "write: " + wec.message();
        co_return wec;
    }
    std::size_t answered = 0;
    while (answered < hello.replies()) {
        read_buffer_.resize(read_chunk);
        auto [ec, n] = co_await read_some(net::buffer(read_buffer_));
        if (ec) {
            last_failure_ = "read: " + ec.message();
            co_return ec;
        }
        try {
            reader_.feed(std::string_view(read_buffer_.data(), n));
            while (auto reply = reader_.next()) {
                // The password never reaches the log: Redis's own error text names none.
                if (reply->is_error()) {
                    last_failure_ = "set-up refused: " + reply->text;
                    co_return make_error_code(connection_error::protocol);
                }
                ++answered;
            }
        } catch (const resp_protocol_error& e) {
            last_failure_ = e.what();
            co_return make_error_code(connection_error::protocol);
        }
    }
    co_return error_code{};
}

// `self` keeps the connection alive while the coroutine runs.
awaitable<void> redis_connection::run([[maybe_unused]] std::shared_ptr<redis_connection> self)
{
    auto backoff = timing_.reconnect_min;
    while (!stopped_) {
        const auto ec = co_await connect_once();
        connecting_ = false;
        if (!ec && !stopped_) {
            backoff = timing_.reconnect_min;
            connected_ = true;
            drop_reason_ = connection_error::lost;
            logged_failure_.clear();
            set_up(true);
            using namespace net::experimental::awaitable_operators;
            co_await (read_loop() && write_loop());
            const auto why = make_error_code(drop_reason_);
            set_up(false);
            fail_all(why, stopped_ ? why : make_error_code(connection_error::down));
        } else {
            error_code ignored;
            socket_.close(ignored);
            set_up(false);
            fail_all(
                make_error_code(connection_error::down), make_error_code(connection_error::down)
            );
            // Once per reason, not once per attempt: a store that stays away would fill
            // the log every backoff.
            if (!stopped_ && last_failure_ != logged_failure_) {
                logged_failure_ = last_failure_;
                log::warn(
                    "store_connect_failed", {{"host", endpoint_.host}, {"reason", last_failure_}}
                );
            }
        }
        if (stopped_)
            break;
        pause_.expires_after(backoff);
        co_await pause_.async_wait(use_tuple);
        backoff = std::min(backoff * 2, timing_.reconnect_max);
    }
}

bool redis_connection::deliver(resp_value value)
{
    if (on_message_ && value.type == resp_value::kind::array && value.elements.size() == 3 &&
        value.elements[0].text == "message") {
        on_message_(value.elements[1].text, value.elements[2].text);
        return true;
    }
    if (waiting_.empty())
        return false; // a reply to nothing asked
    auto& front = waiting_.front();
    front.got.push_back(std::move(value));
    if (front.got.size() < front.replies)
        return true;
    auto done = std::move(front);
    waiting_.pop_front();
    ++stats_.requests;
    if (waiting_.empty() && !queued_.empty())
        wake_.cancel();
    std::move(done.handler)(error_code{}, std::move(done.got));
    return true;
}

awaitable<void> redis_connection::read_loop()
{
    while (connected_) {
        read_buffer_.resize(read_chunk);
        auto [ec, n] = co_await read_some(net::buffer(read_buffer_));
        if (ec) {
            // After the watchdog's or stop()'s drop this keeps their reason.
            drop(connection_error::lost, "read: " + ec.message());
            co_return;
        }
        try {
            reader_.feed(std::string_view(read_buffer_.data(), n));
            while (connected_) {
                auto reply = reader_.next();
                if (!reply)
                    break;
                if (!deliver(std::move(*reply))) {
                    drop(connection_error::protocol, "a reply nobody asked for");
                    co_return;
                }
            }
        } catch (const resp_protocol_error& e) {
            drop(connection_error::protocol, e.what());
            co_return;
        }
    }
}

awaitable<void> redis_connection::write_loop()
{
    std::string sending;
    while (connected_) {
        if (queued_.empty() || !waiting_.empty()) {
            wake_.expires_at(net::steady_timer::time_point::max());
            co_await wake_.async_wait(use_tuple);
            continue;
        }
        sending.clear();
        sending.swap(outbox_);
        for (auto& p : queued_)
            waiting_.push_back(std::move(p));
        queued_.clear();
        round_sent_ = std::chrono::steady_clock::now();
        metrics::global().store_writes.fetch_add(1, std::memory_order_relaxed);
        metrics::global().store_requests.fetch_add(waiting_.size(), std::memory_order_relaxed);
        ++stats_.rounds;
        stats_.bytes_out += sending.size();
        auto [ec, n] = co_await write(net::buffer(sending));
        if (ec) {
            drop(connection_error::lost, "write: " + ec.message());
            co_return;
        }
    }
}

awaitable<void> redis_connection::watchdog([[maybe_unused]] std::shared_ptr<redis_connection> self)
{
    while (!stopped_) {
        tick_.expires_after(tick_period(timing_));
        co_await tick_.async_wait(use_tuple);
        const auto now = std::chrono::steady_clock::now();
        if (connected_ && !waiting_.empty() && now - round_sent_ > timing_.reply_timeout)
            drop(
                connection_error::timeout,
                "no reply within " + std::to_string(timing_.reply_timeout.count()) + " ms"
            );
        else if (connecting_ && now - connect_started_ > timing_.reply_timeout) {
            last_failure_ = "connect: no answer within " +
                            std::to_string(timing_.reply_timeout.count()) + " ms";
            error_code ignored;
            socket_.close(ignored);
        }
    }
}

} // namespace tokenrelay::store
