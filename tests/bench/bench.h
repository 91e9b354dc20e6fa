/* What the benchmark's C programs share: clocks, fd limits, loopback
 * sockets. Header-only so each program stays one file plus this. */
#ifndef SB_BENCH_H
#define SB_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force. */
static inline long bench_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

static inline void bench_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static inline void bench_nodelay(int fd) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Closes with a reset, so a benchmark that opens many connections leaves no
 * TIME_WAIT entries to exhaust loopback's ephemeral ports. */
static inline void bench_close_rst(int fd) {
    struct linger lg = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static inline struct sockaddr_in bench_addr(const char *host, int port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) bench_die("bad IPv4 address: %s", host);
    return sa;
}

/* A non-blocking, close-on-exec TCP listener, bound the way switchboard binds
 * (SO_REUSEADDR, backlog 511). Exits on failure: a reference server that
 * cannot bind has nothing to measure. */
static inline int bench_listen(const char *host, int port) {
    struct sockaddr_in sa = bench_addr(host, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) bench_die("socket: %s", strerror(errno));
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) bench_die("bind %s:%d: %s", host, port, strerror(errno));
    if (listen(fd, 4096) != 0) bench_die("listen: %s", strerror(errno));
    return fd;
}

/* Common arguments: -H HOST -p PORT. Returns 1 when it consumed argv[*i] (and its value). */
static inline int bench_host_port_arg(int argc, char **argv, int *i, const char **host, int *port) {
    if (*i + 1 >= argc) return 0;
    if (strcmp(argv[*i], "-H") == 0) {
        *host = argv[++*i];
        return 1;
    }
    if (strcmp(argv[*i], "-p") == 0) {
        *port = atoi(argv[++*i]);
        return 1;
    }
    return 0;
}

#endif
