// The listener's poll: an error from libuv (after which libuv has stopped
// the handle) reaches the listener's handler and can be recovered from by
// watching again, for real; a listening socket that a child shut down is seen as no
// longer listening.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "net/socket.hpp"
#include "server/listener.hpp"

using namespace sb;

namespace {

struct RecordingHandler final : server::ListenerHandler {
    int broken_status = 0;
    int broken = 0;
    int rearm_limit = 1000;  // re-arms after the first rearm_limit - 1 errors only
    int accepted = 0;
    void on_accepted(server::Listener&, Fd, const net::SockAddr&) override { ++accepted; }
    void on_ready(server::Listener&) override {}
    void on_accept_exhausted(server::Listener&, int) override {}
    void on_accept_failed(server::Listener&, int) override {}
    void on_listener_broken(server::Listener& l, int status) override {
        ++broken;
        broken_status = status;
        if (broken < rearm_limit) l.rearm();
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

TEST_CASE("a listener whose poll fails tells its handler, and re-armed it really watches again") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    Fd reader(p[0]);
    reader.reset();  // a pipe with no reader: its write end reports POLLERR
    net::BoundSocket broken;
    broken.fd = p[1];
    std::string error;
    server::Listener* listener = server::Listener::adopt(&loop, loopback_tcp(), broken, error);
    REQUIRE(listener != nullptr);
    // libuv stops the poll on the error; re-armed, it must really watch
    // again (and so meet the error again): twice, then the handler gives up.
    RecordingHandler handler;
    handler.rearm_limit = 3;
    listener->set_handler(&handler);
    listener->set_pause_reasons(0);
    run_until(&loop, [&] { return handler.broken >= 3; });
    CHECK(handler.broken == 3);
    CHECK(handler.broken_status < 0);

    listener->close(false);
    uv_run(&loop, UV_RUN_DEFAULT);
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
