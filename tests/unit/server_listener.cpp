// The listener's poll: an error from libuv (after which libuv has stopped
// the handle) reaches the listener's handler and can be recovered from by
// watching again; a listening socket that a child shut down is seen as no
// longer listening.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "net/socket.hpp"
#include "server/listener.hpp"
#include "uv/poll.hpp"

using namespace sb;

namespace {

struct RecordingHandler final : server::ListenerHandler {
    int broken_status = 0;
    int accepted = 0;
    bool rearm_when_broken = true;
    void on_accepted(server::Listener&, Fd, const net::SockAddr&) override { ++accepted; }
    void on_ready(server::Listener&) override {}
    void on_accept_exhausted(server::Listener&, int) override {}
    void on_listener_broken(server::Listener& l, int status) override {
        broken_status = status;
        if (rearm_when_broken) l.rearm();
    }
};

net::Listen loopback_tcp() {
    net::Listen l;
    l.endpoint.transport = net::Transport::tcp;
    l.endpoint.host = "127.0.0.1";
    l.endpoint.port = 0;
    l.options.backlog = 8;
    return l;
}

void run_until(uv_loop_t* loop, const auto& done) {
    for (int i = 0; i < 200 && !done(); ++i) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!done()) ::usleep(5000);
    }
}

}  // namespace

TEST_CASE("after a poll error, watching again restarts the poll libuv stopped") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    int p[2];
    REQUIRE(::pipe(p) == 0);
    Fd reader(p[0]), writer(p[1]);
    reader.reset();  // a pipe with no reader: its write end reports POLLERR

    uv::Poll poll;
    REQUIRE(poll.init(&loop, writer.get()) == 0);
    int errors = 0;
    poll.on_event([&](int status, int) {
        if (status >= 0) return;
        ++errors;
        // What a listener does once told: watch again. Once libuv has
        // stopped the handle this must really start it again.
        if (errors < 3) CHECK(poll.watch(UV_WRITABLE) == 0);
    });
    REQUIRE(poll.watch(UV_WRITABLE) == 0);
    run_until(&loop, [&] { return errors >= 3; });
    CHECK(errors == 3);
    CHECK(poll.events() == 0);  // libuv stopped it after the third; the wrapper knows

    bool closed = false;
    poll.close([&] { closed = true; });
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(closed);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a listener hands a poll error to its handler and serves again once re-armed") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    net::BoundSocket bound;
    std::string error;
    net::Listen listen = loopback_tcp();
    REQUIRE(net::bind_listener(listen, bound, error) == 0);
    net::SockAddr address = net::local_address(bound.fd);
    server::Listener* listener = server::Listener::adopt(&loop, listen, bound, error);
    REQUIRE(listener != nullptr);
    RecordingHandler handler;
    listener->set_handler(&handler);
    listener->set_pause_reasons(0);
    CHECK(listener->listening());

    listener->on_poll_event(UV_EBADF, 0);
    CHECK(handler.broken_status == UV_EBADF);

    Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(client.get(), address.get(), address.length) == 0);
    run_until(&loop, [&] { return handler.accepted == 1; });
    CHECK(handler.accepted == 1);

    listener->close(true);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a listening socket shut down by someone else no longer counts as listening") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    net::BoundSocket bound;
    std::string error;
    net::Listen listen = loopback_tcp();
    REQUIRE(net::bind_listener(listen, bound, error) == 0);
    Fd childs_copy(::dup(bound.fd));
    server::Listener* listener = server::Listener::adopt(&loop, listen, bound, error);
    REQUIRE(listener != nullptr);
    CHECK(listener->listening());
    REQUIRE(::shutdown(childs_copy.get(), SHUT_RDWR) == 0);
    CHECK_FALSE(listener->listening());
    // TCP keeps its address: listen() again brings it back.
    REQUIRE(::listen(listener->fd(), 8) == 0);
    CHECK(listener->listening());
    listener->close(true);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}
