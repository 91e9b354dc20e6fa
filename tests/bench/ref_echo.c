/* sb-ref-echo: the bare reference echo server for `make bench`.
 *
 * One thread, one level-triggered epoll, non-blocking sockets, one shared
 * read buffer: the least a server can do per round trip, so switchboard's
 * built-in echo is measured against it. Bytes a client does not read yet
 * are kept per connection and its reads stop until they are written.
 *
 *   sb-ref-echo [-H 127.0.0.1] -p PORT
 *
 * Prints "sb-ref-echo ready port=PORT" on stderr when listening; SIGTERM stops it. */
#include <sys/epoll.h>

#include "bench.h"

struct pending {
    char *data;
    size_t len, off;
};

static struct pending *pend;  /* indexed by fd */
static long max_fds;
static int ep;

static void drop(int fd) {
    free(pend[fd].data);
    pend[fd] = (struct pending){0};
    close(fd);
}

/* Writes what is pending on fd; returns 0 while some is left. */
static int flush_pending(int fd) {
    struct pending *p = &pend[fd];
    while (p->off < p->len) {
        ssize_t n = write(fd, p->data + p->off, p->len - p->off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n <= 0) return -1;
        p->off += (size_t)n;
    }
    free(p->data);
    *p = (struct pending){0};
    return 1;
}

static void on_readable(int fd) {
    static char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            drop(fd);
            return;
        }
        ssize_t w = write(fd, buf, (size_t)n);
        if (w < 0 && errno != EAGAIN) {
            drop(fd);
            return;
        }
        if (w < 0) w = 0;
        if (w < n) {
            /* The client is not reading: keep the rest and wait until it can be written. */
            size_t rest = (size_t)(n - w);
            pend[fd].data = malloc(rest);
            if (!pend[fd].data) bench_die("out of memory");
            memcpy(pend[fd].data, buf + w, rest);
            pend[fd].len = rest;
            pend[fd].off = 0;
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            (void)epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            return;
        }
        if ((size_t)n < sizeof buf) return;
    }
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; ++i) {
        if (!bench_host_port_arg(argc, argv, &i, &host, &port)) bench_die("usage: sb-ref-echo [-H HOST] -p PORT");
    }
    if (port <= 0) bench_die("usage: sb-ref-echo [-H HOST] -p PORT");
    max_fds = bench_raise_nofile();
    pend = calloc((size_t)max_fds, sizeof *pend);
    if (!pend) bench_die("out of memory");

    int lfd = bench_listen(host, port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) bench_die("epoll: %s", strerror(errno));
    fprintf(stderr, "sb-ref-echo ready port=%d fd_limit=%ld\n", port, max_fds);

    int accepting = 1;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, accepting ? -1 : 100);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) bench_die("epoll_wait: %s", strerror(errno));
        if (!accepting) {
            /* Out of fds earlier: try again now that some may have closed. */
            (void)epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
            accepting = 1;
        }
        for (int i = 0; i < n; ++i) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (int budget = 0; budget < 256; ++budget) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                            (void)epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
                            accepting = 0;
                        }
                        break;
                    }
                    bench_nodelay(c);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) != 0) close(c);
                }
            } else if (pend[fd].data) {
                int r = flush_pending(fd);
                if (r < 0) {
                    drop(fd);
                } else if (r > 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
                    (void)epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                }
            } else {
                on_readable(fd);
            }
        }
    }
}
