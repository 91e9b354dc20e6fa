/* sb-load: the load generator of `make bench`. One process, one thread,
 * epoll; loopback IPv4 only. Every mode is bounded in time and count and
 * ends by printing one line, "result mode=... key=value ...", which
 * tests/bench/run.py parses.
 *
 *   sb-load echo       -p PORT [-c 100] [-s 64] [-d 5] [-W 0.5]
 *       -c connections each send -s bytes and wait for them back, again and
 *       again, for -d seconds after a -W seconds warm-up: round trips/s.
 *   sb-load idle       -p PORT [-n 19000] [-t 30] [-d 1] [-w]
 *       opens up to -n connections (at most 128 connecting at once, -t
 *       seconds in all, stopping at the first connect that times out or at
 *       its own fd limit, which it raises to the hard limit), prints
 *       "holding held=N", holds them for -d seconds (or, with -w, until a
 *       line or EOF arrives on stdin), then checks that every one still
 *       echoes a probe: held, answered, lost.
 *   sb-load spawn      -p PORT [-c 16] [-d 5] [-W 0.5]
 *       -c clients each connect, read until EOF (the child wrote a few bytes
 *       and exited), close, and start again: connections/s.
 *   sb-load throughput -p PORT [-b 1073741824] [-d 5]
 *       one connection writes -b bytes (a pattern) and reads them back,
 *       checking every byte, until done or -d seconds passed: MiB/s.
 *   sb-load connect    -p PORT [-d 30]
 *       one connection at a time: connect, echo one byte, reset; until -d
 *       seconds pass or SIGTERM/SIGINT: ok, refused, failed, slowest.
 *
 * Exit status 0 when the mode ran (whatever it measured), 1 when it could
 * not (bad arguments, nothing to connect to), 2 on usage errors. */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>

#include "bench.h"

struct options {
    const char *mode;
    const char *host;
    int port;
    int conns;         /* -c */
    int size;          /* -s */
    double seconds;    /* -d */
    double warmup;     /* -W */
    long count;        /* -n */
    double timeout;    /* -t */
    long long bytes;   /* -b */
    int wait_stdin;    /* -w */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int ms_until(double deadline) {
    double left = deadline - bench_now();
    if (left <= 0) return 0;
    return (int)(left * 1000.0) + 1;
}

/* A blocking connect to the target; -1 with errno set on failure. */
static int connect_blocking(const struct options *o) {
    struct sockaddr_in sa = bench_addr(o->host, o->port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {5, 0};  /* bounds the connect as well as blocking writes */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Source ports for the idle mode, chosen here rather than by the kernel:
 * connect()'s ephemeral port search turns quadratic once most of the range
 * is taken by connections to one destination (19,000 connections took 30 s),
 * and taking the whole range would starve everyone else on the machine.
 * Ports from 10240 up, skipping the kernel's ephemeral range. */
static int next_source_port = 10240;

/* When the target is on loopback, the idle connections also come from many
 * source addresses in 127.0.0.0/8 (127.10.x.y, a new one every
 * IDLE_PER_SOURCE connections), as connections from many clients would:
 * switchboard lets one source hold at most 40 connections by default
 * (per_source). */
#define IDLE_PER_SOURCE 32
static long idle_opened;

static const char *idle_source_host(const char *host) {
    static char buf[32];
    if (strncmp(host, "127.", 4) != 0) return host;
    long k = idle_opened / IDLE_PER_SOURCE;
    snprintf(buf, sizeof buf, "127.10.%ld.%ld", (k / 250) % 250, k % 250 + 1);
    return buf;
}

static int bind_source_port(int fd, const char *host) {
    static int eph_low = -1, eph_high = -1;
    if (eph_low < 0) {
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (!f || fscanf(f, "%d %d", &eph_low, &eph_high) != 2) eph_low = eph_high = 0;
        if (f) fclose(f);
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    while (next_source_port <= 65535) {
        int port = next_source_port++;
        if (port >= eph_low && port <= eph_high) {
            next_source_port = eph_high + 1;
            continue;
        }
        struct sockaddr_in sa = bench_addr(idle_source_host(host), port);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            ++idle_opened;
            return 0;
        }
    }
    return -1;  /* out of chosen ports: let the kernel pick */
}

/* Starts a non-blocking connect; returns the fd (connected or connecting) or
 * -1 with errno set. choose_port: bind a source port first (idle mode). */
static int connect_start(const struct options *o, int *in_progress, int choose_port) {
    struct sockaddr_in sa = bench_addr(o->host, o->port);
    for (int attempt = 0; attempt < 8; ++attempt) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        if (choose_port) (void)bind_source_port(fd, o->host);
        *in_progress = 0;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
        if (errno == EINPROGRESS) {
            *in_progress = 1;
            return fd;
        }
        int e = errno;
        close(fd);
        errno = e;
        /* That source port already talks to this destination: take the next one. */
        if (!(choose_port && (e == EADDRNOTAVAIL || e == EADDRINUSE))) break;
    }
    return -1;
}

/* Writes all of a short message to a non-blocking socket (a few bytes
 * nearly always go at once; the poll is for the rare full buffer). */
static int write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            if (poll(&pfd, 1, 1000) <= 0) return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* ---- echo ---------------------------------------------------------------- */

struct echo_conn {
    int fd;
    int got;
};

static int run_echo(const struct options *o) {
    int n = o->conns, size = o->size;
    struct echo_conn *cs = calloc((size_t)n, sizeof *cs);
    char *msg = malloc((size_t)size), *rbuf = malloc((size_t)size);
    if (!cs || !msg || !rbuf) bench_die("out of memory");
    for (int i = 0; i < size; ++i) msg[i] = (char)('a' + i % 26);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; ++i) {
        int fd = connect_blocking(o);
        if (fd < 0) {
            printf("result mode=echo error=connect:%s conns=%d\n", strerror(errno), i);
            for (int j = 0; j < i; ++j) close(cs[j].fd);
            free(cs);
            free(msg);
            free(rbuf);
            close(ep);
            return 1;
        }
        bench_nodelay(fd);
        bench_nonblock(fd);
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    long total = 0, base = 0, errors = 0, mismatches = 0;
    int alive = n, warmed = o->warmup <= 0;
    double t0 = bench_now(), tw = t0, end = t0 + o->warmup + o->seconds;
    for (int i = 0; i < n; ++i) {
        if (write_all(cs[i].fd, msg, (size_t)size) != 0) {
            ++errors;
            close(cs[i].fd);
            cs[i].fd = -1;
            --alive;
        }
    }
    struct epoll_event evs[256];
    double t = t0;
    while (alive > 0 && (t = bench_now()) < end) {
        if (!warmed && t >= t0 + o->warmup) {
            warmed = 1;
            base = total;
            tw = t;
        }
        int k = epoll_wait(ep, evs, 256, ms_until(end));
        for (int e = 0; e < k; ++e) {
            struct echo_conn *c = &cs[evs[e].data.u32];
            if (c->fd < 0) continue;
            ssize_t r = read(c->fd, rbuf, (size_t)(size - c->got));
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r > 0) {
                if (memcmp(rbuf, msg + c->got, (size_t)r) != 0) ++mismatches;
                c->got += (int)r;
                if (c->got < size) continue;
                c->got = 0;
                ++total;
                if (write_all(c->fd, msg, (size_t)size) == 0) continue;
            }
            ++errors;
            close(c->fd);
            c->fd = -1;
            --alive;
        }
    }
    t = bench_now();
    if (!warmed) {  /* ended before the warm-up did: count everything */
        tw = t0;
        base = 0;
    }
    for (int i = 0; i < n; ++i)
        if (cs[i].fd >= 0) bench_close_rst(cs[i].fd);
    double secs = t - tw;
    printf("result mode=echo conns=%d size=%d round_trips=%ld seconds=%.3f rate=%.1f errors=%ld mismatches=%ld "
           "all_round_trips=%ld\n",
           n, size, total - base, secs, secs > 0 ? (double)(total - base) / secs : 0.0, errors, mismatches, total);
    free(cs);
    free(msg);
    free(rbuf);
    close(ep);
    return 0;
}

/* ---- idle ---------------------------------------------------------------- */

enum idle_state { IDLE_CONNECTING = 1, IDLE_OPEN, IDLE_ANSWERED, IDLE_LOST, IDLE_FAILED };

struct idle_conn {
    int fd;
    unsigned char state;
    unsigned char got;
    double started;
};

#define IDLE_PROBE "probe-8"
#define IDLE_PROBE_LEN 8
#define IDLE_MAX_CONNECTING 128

/* An open connection became readable: while held that means the server
 * closed it; while verifying it is (part of) the answer. */
static void idle_readable(struct idle_conn *c, int verifying, long *lost, long *answered) {
    char buf[64];
    for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        if (r > 0 && verifying) {
            c->got = (unsigned char)(c->got + r);
            if (c->got >= IDLE_PROBE_LEN && c->state == IDLE_OPEN) {
                c->state = IDLE_ANSWERED;
                ++*answered;
            }
            continue;
        }
        if (r > 0) continue;  /* unasked-for bytes: ignore */
        if (c->state == IDLE_OPEN) {
            c->state = IDLE_LOST;
            ++*lost;
        }
        bench_close_rst(c->fd);
        c->fd = -1;
        return;
    }
}

static int run_idle(const struct options *o) {
    long nofile = bench_raise_nofile();
    long target = o->count;
    int limited = 0;
    if (target > nofile - 32) {
        target = nofile - 32;
        limited = 1;
    }
    if (target < 1) bench_die("fd limit %ld too low", nofile);
    struct idle_conn *cs = calloc((size_t)target, sizeof *cs);
    if (!cs) bench_die("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long next = 0, held = 0, failed = 0, lost = 0, answered = 0, timed_out = 0;
    long connecting[IDLE_MAX_CONNECTING];
    int nconnecting = 0, stop_opening = 0;
    const char *stop_reason = "count";
    double t0 = bench_now(), open_deadline = t0 + o->timeout;
    struct epoll_event *evs = calloc(1024, sizeof *evs);

    while ((!stop_opening && next < target) || nconnecting > 0) {
        double t = bench_now();
        if (t >= open_deadline) {
            stop_reason = "time";
            break;
        }
        while (!stop_opening && next < target && nconnecting < IDLE_MAX_CONNECTING) {
            int in_progress = 0;
            int fd = connect_start(o, &in_progress, 1);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                    stop_opening = 1;
                    stop_reason = "client-fd-limit";
                    break;
                }
                stop_opening = 1;
                stop_reason = errno == ECONNREFUSED ? "refused" : "connect-error";
                ++failed;
                break;
            }
            struct idle_conn *c = &cs[next];
            c->fd = fd;
            c->started = t;
            c->state = in_progress ? IDLE_CONNECTING : IDLE_OPEN;
            struct epoll_event ev = {.events = in_progress ? EPOLLOUT : EPOLLIN, .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            if (in_progress) {
                connecting[nconnecting++] = next;
            } else {
                ++held;
            }
            ++next;
        }
        int k = epoll_wait(ep, evs, 1024, 20);
        for (int e = 0; e < k; ++e) {
            struct idle_conn *c = &cs[evs[e].data.u32];
            if (c->fd < 0) continue;
            if (c->state == IDLE_OPEN) {
                idle_readable(c, 0, &lost, &answered);
                continue;
            }
            if (c->state != IDLE_CONNECTING) continue;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            for (int j = 0; j < nconnecting; ++j) {
                if (&cs[connecting[j]] == c) {
                    connecting[j] = connecting[--nconnecting];
                    break;
                }
            }
            if (err == 0) {
                c->state = IDLE_OPEN;
                ++held;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[e].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            } else {
                c->state = IDLE_FAILED;
                ++failed;
                close(c->fd);
                c->fd = -1;
                if (!stop_opening) {
                    stop_opening = 1;
                    stop_reason = "connect-error";
                }
            }
        }
        /* A connect that hangs means the server's backlog is full: it stopped
         * accepting. Waiting longer will not add connections. */
        t = bench_now();
        for (int j = 0; j < nconnecting;) {
            struct idle_conn *c = &cs[connecting[j]];
            if (t - c->started > 4.0) {
                c->state = IDLE_FAILED;
                ++failed;
                ++timed_out;
                bench_close_rst(c->fd);
                c->fd = -1;
                connecting[j] = connecting[--nconnecting];
                if (!stop_opening) {
                    stop_opening = 1;
                    stop_reason = "connect-timeout";
                }
            } else {
                ++j;
            }
        }
    }
    for (int j = 0; j < nconnecting; ++j) {
        struct idle_conn *c = &cs[connecting[j]];
        c->state = IDLE_FAILED;
        ++failed;
        bench_close_rst(c->fd);
        c->fd = -1;
    }
    double open_seconds = bench_now() - t0;
    printf("holding held=%ld failed=%ld target=%ld nofile=%ld\n", held, failed, target, nofile);
    fflush(stdout);

    /* Hold: nothing is sent; a readable connection now is one the server closed. */
    if (o->wait_stdin) {
        char line[16];
        (void)!read(STDIN_FILENO, line, sizeof line);
    } else {
        double until = bench_now() + o->seconds;
        while (bench_now() < until) {
            int k = epoll_wait(ep, evs, 1024, ms_until(until));
            for (int e = 0; e < k; ++e) {
                struct idle_conn *c = &cs[evs[e].data.u32];
                if (c->fd >= 0 && c->state == IDLE_OPEN) idle_readable(c, 0, &lost, &answered);
            }
        }
    }
    int k;
    while ((k = epoll_wait(ep, evs, 1024, 0)) > 0) {
        for (int e = 0; e < k; ++e) {
            struct idle_conn *c = &cs[evs[e].data.u32];
            if (c->fd >= 0 && c->state == IDLE_OPEN) idle_readable(c, 0, &lost, &answered);
        }
    }

    /* Verify: every connection still open must echo a probe. */
    for (long i = 0; i < next; ++i) {
        struct idle_conn *c = &cs[i];
        if (c->fd < 0 || c->state != IDLE_OPEN) continue;
        if (write_all(c->fd, IDLE_PROBE, IDLE_PROBE_LEN) != 0) {
            c->state = IDLE_LOST;
            ++lost;
        }
    }
    double verify_deadline = bench_now() + (o->timeout < 15 ? o->timeout : 15);
    while (answered + lost < held && bench_now() < verify_deadline) {
        k = epoll_wait(ep, evs, 1024, ms_until(verify_deadline));
        for (int e = 0; e < k; ++e) {
            struct idle_conn *c = &cs[evs[e].data.u32];
            if (c->fd >= 0 && c->state == IDLE_OPEN) idle_readable(c, 1, &lost, &answered);
        }
    }
    double verify_seconds = bench_now() - t0 - open_seconds;
    for (long i = 0; i < next; ++i)
        if (cs[i].fd >= 0) bench_close_rst(cs[i].fd);
    printf("result mode=idle target=%ld%s held=%ld answered=%ld lost=%ld unanswered=%ld failed=%ld timed_out=%ld "
           "stopped=%s nofile=%ld open_seconds=%.2f verify_seconds=%.2f\n",
           target, limited ? " limited_by_nofile=1" : "", held, answered, lost, held - answered - lost, failed,
           timed_out, stop_reason, nofile, open_seconds, verify_seconds);
    free(cs);
    free(evs);
    close(ep);
    return 0;
}

/* ---- spawn --------------------------------------------------------------- */

struct spawn_slot {
    int fd;
    long bytes;
    double started;
};

static long spawn_errors, spawn_refused, spawn_empty;

static void spawn_start(const struct options *o, int ep, struct spawn_slot *s, uint32_t index) {
    int in_progress;
    s->bytes = 0;
    s->started = bench_now();
    s->fd = connect_start(o, &in_progress, 0);
    if (s->fd < 0) {
        if (errno == ECONNREFUSED) ++spawn_refused;
        ++spawn_errors;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = index};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

/* Reads what arrived; returns 1 when the connection finished (EOF or error). */
static int spawn_readable(struct spawn_slot *s, long *ok) {
    char buf[4096];
    for (;;) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (r > 0) {
            s->bytes += r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return 0;
        if (r == 0 && s->bytes > 0) {
            ++*ok;
            close(s->fd);
        } else {
            if (r == 0) ++spawn_empty;
            if (r < 0 && errno == ECONNREFUSED) ++spawn_refused;
            ++spawn_errors;
            bench_close_rst(s->fd);
        }
        s->fd = -1;
        return 1;
    }
}

static int run_spawn(const struct options *o) {
    int n = o->conns;
    struct spawn_slot *slots = calloc((size_t)n, sizeof *slots);
    if (!slots) bench_die("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long ok = 0, base = 0, timeouts = 0;
    double t0 = bench_now(), tw = t0, end = t0 + o->warmup + o->seconds, t = t0;
    int warmed = o->warmup <= 0;
    for (int i = 0; i < n; ++i) spawn_start(o, ep, &slots[i], (uint32_t)i);
    struct epoll_event evs[256];
    while ((t = bench_now()) < end) {
        if (!warmed && t >= t0 + o->warmup) {
            warmed = 1;
            base = ok;
            tw = t;
        }
        if (ok == 0 && spawn_errors > 200) break;  /* the server refuses: nothing to measure */
        int k = epoll_wait(ep, evs, 256, 50);
        for (int e = 0; e < k; ++e) {
            struct spawn_slot *s = &slots[evs[e].data.u32];
            if (s->fd >= 0 && spawn_readable(s, &ok)) spawn_start(o, ep, s, evs[e].data.u32);
        }
        t = bench_now();
        for (int i = 0; i < n; ++i) {
            if (slots[i].fd < 0) {
                spawn_start(o, ep, &slots[i], (uint32_t)i);  /* its last connect failed at once */
            } else if (t - slots[i].started > 10.0) {
                ++timeouts;
                ++spawn_errors;
                bench_close_rst(slots[i].fd);
                spawn_start(o, ep, &slots[i], (uint32_t)i);
            }
        }
    }
    t = bench_now();
    if (!warmed) {  /* ended before the warm-up did: count everything */
        tw = t0;
        base = 0;
    }
    long measured = ok - base;
    /* Let connections in flight finish so the server is quiet for whoever measures next. */
    double drain_until = t + 3.0;
    long in_flight;
    do {
        in_flight = 0;
        for (int i = 0; i < n; ++i) in_flight += slots[i].fd >= 0;
        if (in_flight == 0) break;
        int k = epoll_wait(ep, evs, 256, ms_until(drain_until));
        for (int e = 0; e < k; ++e) {
            struct spawn_slot *s = &slots[evs[e].data.u32];
            if (s->fd >= 0) spawn_readable(s, &ok);
        }
    } while (bench_now() < drain_until);
    for (int i = 0; i < n; ++i)
        if (slots[i].fd >= 0) bench_close_rst(slots[i].fd);
    double secs = t - tw;
    printf("result mode=spawn clients=%d connections=%ld seconds=%.3f rate=%.1f errors=%ld refused=%ld empty=%ld "
           "timeouts=%ld all_connections=%ld\n",
           n, measured, secs, secs > 0 ? (double)measured / secs : 0.0, spawn_errors, spawn_refused, spawn_empty,
           timeouts, ok);
    free(slots);
    close(ep);
    return 0;
}

/* ---- throughput ---------------------------------------------------------- */

#define PATTERN_PERIOD 251
#define PATTERN_CHUNK (PATTERN_PERIOD * 1024)

static int run_throughput(const struct options *o) {
    static char pattern[PATTERN_CHUNK], rbuf[PATTERN_CHUNK];
    for (int i = 0; i < PATTERN_CHUNK; ++i) pattern[i] = (char)(i % PATTERN_PERIOD);
    int fd = connect_blocking(o);
    if (fd < 0) {
        printf("result mode=throughput error=connect:%s\n", strerror(errno));
        return 1;
    }
    bench_nonblock(fd);
    long long total = o->bytes, sent = 0, received = 0;
    long mismatches = 0;
    int shut = 0, eof = 0, error = 0;
    double t0 = bench_now(), end = t0 + o->seconds;
    while (received < total && !eof && !error && bench_now() < end) {
        struct pollfd pfd = {fd, (short)(POLLIN | (sent < total ? POLLOUT : 0)), 0};
        int k = poll(&pfd, 1, ms_until(end));
        if (k <= 0) continue;
        if (pfd.revents & POLLOUT) {
            size_t off = (size_t)(sent % PATTERN_CHUNK);
            size_t len = PATTERN_CHUNK - off;
            if ((long long)len > total - sent) len = (size_t)(total - sent);
            ssize_t w = write(fd, pattern + off, len);
            if (w > 0) sent += w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) error = 1;
            if (sent == total && !shut) {
                shutdown(fd, SHUT_WR);
                shut = 1;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, rbuf, sizeof rbuf);
            if (r > 0) {
                size_t off = (size_t)(received % PATTERN_CHUNK), done = 0;
                while (done < (size_t)r) {
                    size_t piece = PATTERN_CHUNK - off;
                    if (piece > (size_t)r - done) piece = (size_t)r - done;
                    if (memcmp(rbuf + done, pattern + off, piece) != 0) ++mismatches;
                    done += piece;
                    off = 0;
                }
                received += r;
            } else if (r == 0) {
                eof = 1;
            } else if (errno != EAGAIN && errno != EINTR) {
                error = 1;
            }
        }
    }
    double secs = bench_now() - t0;
    bench_close_rst(fd);
    printf("result mode=throughput bytes=%lld sent=%lld received=%lld complete=%d seconds=%.3f rate_mib=%.1f "
           "mismatches=%ld early_eof=%d io_error=%d\n",
           total, sent, received, received == total, secs,
           secs > 0 ? (double)received / (1024.0 * 1024.0) / secs : 0.0, mismatches, eof && received < total, error);
    return 0;
}

/* ---- connect ------------------------------------------------------------- */

static int run_connect(const struct options *o) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;  /* no SA_RESTART: a blocked connect or poll returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    long ok = 0, refused = 0, failed = 0;
    double slowest = 0, t0 = bench_now(), end = t0 + o->seconds;
    while (!stop_requested && bench_now() < end) {
        double started = bench_now();
        int fd = connect_blocking(o);
        if (fd < 0) {
            if (errno == EINTR && stop_requested) break;
            if (errno == ECONNREFUSED) ++refused;
            else ++failed;
            continue;
        }
        int good = 0;
        char c = 'x';
        if (write(fd, &c, 1) == 1) {
            struct pollfd pfd = {fd, POLLIN, 0};
            good = poll(&pfd, 1, 2000) == 1 && read(fd, &c, 1) == 1;
        }
        bench_close_rst(fd);
        if (!good && stop_requested) break;
        if (good) ++ok;
        else ++failed;
        double took = bench_now() - started;
        if (took > slowest) slowest = took;
    }
    double secs = bench_now() - t0;
    printf("result mode=connect ok=%ld refused=%ld failed=%ld seconds=%.3f rate=%.1f slowest_ms=%.3f\n", ok, refused,
           failed, secs, secs > 0 ? (double)ok / secs : 0.0, slowest * 1000.0);
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: sb-load echo|idle|spawn|throughput|connect -p PORT [-H 127.0.0.1]\n"
            "               [-c CONNS] [-s SIZE] [-d SECONDS] [-W WARMUP] [-n COUNT] [-t TIMEOUT] [-b BYTES] [-w]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    struct options o = {
        .mode = argv[1], .host = "127.0.0.1", .conns = -1, .size = 64, .seconds = -1, .warmup = 0.5,
        .count = 19000, .timeout = 30, .bytes = 1LL << 30,
    };
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i];
        if (bench_host_port_arg(argc, argv, &i, &o.host, &o.port)) continue;
        if (strcmp(a, "-w") == 0) {
            o.wait_stdin = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (strcmp(a, "-c") == 0) o.conns = atoi(v);
        else if (strcmp(a, "-s") == 0) o.size = atoi(v);
        else if (strcmp(a, "-d") == 0) o.seconds = atof(v);
        else if (strcmp(a, "-W") == 0) o.warmup = atof(v);
        else if (strcmp(a, "-n") == 0) o.count = atol(v);
        else if (strcmp(a, "-t") == 0) o.timeout = atof(v);
        else if (strcmp(a, "-b") == 0) o.bytes = atoll(v);
        else usage();
    }
    if (o.port <= 0 || o.port > 65535 || o.size < 1 || o.size > (1 << 20) || o.bytes < 1) usage();
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *m = o.mode;
    if (strcmp(m, "echo") == 0) {
        if (o.conns < 0) o.conns = 100;
        if (o.seconds < 0) o.seconds = 5;
        return run_echo(&o);
    }
    if (strcmp(m, "idle") == 0) {
        if (o.seconds < 0) o.seconds = 1;
        return run_idle(&o);
    }
    if (strcmp(m, "spawn") == 0) {
        if (o.conns < 0) o.conns = 16;
        if (o.seconds < 0) o.seconds = 5;
        return run_spawn(&o);
    }
    if (strcmp(m, "throughput") == 0) {
        if (o.seconds < 0) o.seconds = 5;
        return run_throughput(&o);
    }
    if (strcmp(m, "connect") == 0) {
        if (o.seconds < 0) o.seconds = 30;
        return run_connect(&o);
    }
    usage();
}
