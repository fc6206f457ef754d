#include <tokenrelay/upstream/tls_socket_stream.hpp>

#if TOKENRELAY_DIRECT_TLS

#include <tokenrelay/core/draining_read_buffer.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <sys/socket.h>

namespace tokenrelay::upstream {

namespace {

/// A failed receive or send, for OpenSSL: try again later (the reactor says when), or an
/// error kept for the step's result.
int failed_transfer(BIO* bio, int& last_errno, bool receiving)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (receiving)
            BIO_set_retry_read(bio);
        else
            BIO_set_retry_write(bio);
    } else {
        last_errno = errno;
    }
    return -1;
}

BIO_METHOD* make_socket_method(
    int (*read)(BIO*, char*, int),
    int (*write)(BIO*, const char*, int),
    long (*ctrl)(BIO*, int, long, void*)
)
{
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tokenrelay socket");
    if (m && (BIO_meth_set_read(m, read) != 1 || BIO_meth_set_write(m, write) != 1 ||
              BIO_meth_set_ctrl(m, ctrl) != 1)) {
        BIO_meth_free(m);
        m = nullptr;
    }
    return m;
}

} // namespace

tls_socket_stream::tls_socket_stream(tcp::socket socket, ssl::context& context)
    : socket_(std::move(socket))
{
    ssl_ = SSL_new(context.native_handle());
    if (!ssl_)
        throw std::bad_alloc();
    // Partial writes are what async_write_some promises; the moving buffer because a
    // retried write may come from a gathered copy. No read-ahead in OpenSSL: the BIO
    // reads ahead (bio_state).
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    bio_.fd = socket_.native_handle();
    BIO* bio = make_bio(bio_);
    if (!bio) {
        SSL_free(ssl_);
        throw std::bad_alloc();
    }
    SSL_set_bio(ssl_, bio, bio);
    SSL_set_connect_state(ssl_);
    // OpenSSL calls recv and send itself, so the descriptor itself must not block (Asio
    // would set it only on its first own operation).
    error_code ignored;
    socket_.non_blocking(true, ignored);
}

tls_socket_stream::~tls_socket_stream()
{
    SSL_free(ssl_); // and the BIO; the socket closes after
}

void tls_socket_stream::expires_at(std::chrono::steady_clock::time_point deadline)
{
    deadline_ = deadline;
    if (watchdog_)
        watchdog_->deadline_moved();
    else
        watchdog_.emplace(socket_, deadline_);
}

detail::tls_step_result
tls_socket_stream::run_step(detail::tls_step_kind kind, net::mutable_buffer b, bool from_receive)
{
    using detail::tls_step_status;
    ERR_clear_error();
    bio_.last_errno = 0;
    // Drained means that this step's own last receive left the kernel empty. A read served
    // from records already buffered makes no receive, and what arrived since the last one
    // may have had its readiness event already: such a read must not report drained.
    bio_.kernel_empty = false;
    int r = 0;
    std::size_t n = 0;
    switch (kind) {
    case detail::tls_step_kind::handshake:
        r = SSL_connect(ssl_);
        break;
    case detail::tls_step_kind::read:
        r = SSL_read_ex(ssl_, b.data(), b.size(), &n);
        break;
    case detail::tls_step_kind::write:
        r = SSL_write_ex(ssl_, b.data(), b.size(), &n);
        break;
    }
    detail::tls_step_result out;
    if (r == 1) {
        out.bytes = n;
        // Drained: nothing decrypted or undecrypted in OpenSSL, nothing read ahead, and the
        // kernel said it held nothing more after this step's receive.
        const bool drained =
            kind == detail::tls_step_kind::read && !holds_input() && bio_.kernel_empty;
        out.status = drained ? tls_step_status::progress_drained : tls_step_status::progress;
    } else {
        // The same errors as ssl::stream gives, so callers read them alike: eof after the
        // peer's close_notify, stream_truncated for a connection closed without one.
        switch (SSL_get_error(ssl_, r)) {
        case SSL_ERROR_WANT_READ:
            out.status = tls_step_status::want_read;
            break;
        case SSL_ERROR_WANT_WRITE:
            out.status = tls_step_status::want_write;
            break;
        case SSL_ERROR_ZERO_RETURN:
            out.ec = net::error::eof;
            break;
        case SSL_ERROR_SYSCALL:
            out.ec = bio_.last_errno != 0
                         ? error_code(bio_.last_errno, boost::system::system_category())
                         : error_code(ssl::error::stream_truncated);
            break;
        case SSL_ERROR_SSL: {
            const auto e = ERR_get_error();
            if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                out.ec = ssl::error::stream_truncated;
            else
                out.ec = error_code(static_cast<int>(e), net::error::get_ssl_category());
            break;
        }
        default:
            out.ec = ssl::error::unexpected_result;
            break;
        }
    }
    (from_receive ? after_receive_ : after_send_) = out.status;
    return out;
}

BIO* tls_socket_stream::make_bio(bio_state& state)
{
    static BIO_METHOD* const method = make_socket_method(&bio_read, &bio_write, &bio_ctrl);
    if (!method)
        return nullptr;
    BIO* bio = BIO_new(method);
    if (!bio)
        return nullptr;
    BIO_set_data(bio, &state);
    BIO_set_init(bio, 1);
    return bio;
}

int tls_socket_stream::bio_read(BIO* bio, char* out, int size)
{
    auto& state = *static_cast<bio_state*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    const auto wanted = static_cast<std::size_t>(size);
    if (state.holds_bytes()) {
        const auto n = std::min(wanted, state.end - state.begin);
        std::memcpy(out, state.ahead.get() + state.begin, n);
        state.begin += n;
        return static_cast<int>(n);
    }
    // A request as large as the buffer (a whole 16 KiB record's body) goes straight to
    // OpenSSL's; smaller ones fill ours first.
    const bool direct = wanted >= bio_state::capacity;
    if (!direct && !state.ahead)
        state.ahead = std::make_unique_for_overwrite<char[]>(bio_state::capacity);
    char* into = direct ? out : state.ahead.get();
    const std::size_t room = direct ? wanted : bio_state::capacity;
    const auto n = receive_noting_rest(state.fd, into, room, 0, state.kernel_empty);
    if (n < 0)
        return failed_transfer(bio, state.last_errno, true);
    if (direct || n == 0)
        return static_cast<int>(n);
    state.begin = std::min(wanted, static_cast<std::size_t>(n));
    state.end = static_cast<std::size_t>(n);
    std::memcpy(out, into, state.begin);
    return static_cast<int>(state.begin);
}

int tls_socket_stream::bio_write(BIO* bio, const char* in, int size)
{
    auto& state = *static_cast<bio_state*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    for (;;) {
        const auto n = ::send(state.fd, in, static_cast<std::size_t>(size), MSG_NOSIGNAL);
        if (n >= 0)
            return static_cast<int>(n);
        if (errno != EINTR)
            return failed_transfer(bio, state.last_errno, false);
    }
}

long tls_socket_stream::bio_ctrl(BIO*, int command, long, void*)
{
    // A socket has nothing to flush; everything else OpenSSL may ask of a BIO (kTLS,
    // datagram settings) is not there.
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

} // namespace tokenrelay::upstream

#endif
