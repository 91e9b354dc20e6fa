/* sb-ref-spawn: the bare reference accept-and-spawn server for `make bench`.
 *
 * What tcpserver does, as cheaply as C allows: accept, posix_spawn the
 * program with the client socket as its fd 0 and 1 (blocking, as inetd
 * children expect) and the UCSPI/systemd connection variables in its
 * environment, close the parent's copy, reap children through a signalfd.
 * glibc's posix_spawn is vfork-style (clone with CLONE_VM|CLONE_VFORK), the
 * same technique switchboard uses, so the comparison is of everything else.
 *
 *   sb-ref-spawn [-H 127.0.0.1] -p PORT [-m MAX_CHILDREN] -- PROGRAM [ARG...]
 *
 * Stops accepting while MAX_CHILDREN (default 256) run, like tcpserver -c.
 * Prints "sb-ref-spawn ready port=PORT" on stderr when listening; SIGTERM stops it. */
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "bench.h"

static void set_env(char *slot, size_t size, const char *name, const char *value) {
    snprintf(slot, size, "%s=%s", name, value);
}

/* The environment switchboard gives an exec child, minus nothing. */
static void connection_env(int fd, char slots[8][64], char *envp[9]) {
    struct sockaddr_in peer = {0}, local = {0};
    socklen_t len = sizeof peer;
    (void)getpeername(fd, (struct sockaddr *)&peer, &len);
    len = sizeof local;
    (void)getsockname(fd, (struct sockaddr *)&local, &len);
    char rip[INET_ADDRSTRLEN] = "", lip[INET_ADDRSTRLEN] = "", rport[8], lport[8];
    inet_ntop(AF_INET, &peer.sin_addr, rip, sizeof rip);
    inet_ntop(AF_INET, &local.sin_addr, lip, sizeof lip);
    snprintf(rport, sizeof rport, "%u", ntohs(peer.sin_port));
    snprintf(lport, sizeof lport, "%u", ntohs(local.sin_port));
    set_env(slots[0], 64, "PATH", "/usr/local/bin:/usr/bin:/bin");
    set_env(slots[1], 64, "PROTO", "TCP");
    set_env(slots[2], 64, "TCPREMOTEIP", rip);
    set_env(slots[3], 64, "TCPREMOTEPORT", rport);
    set_env(slots[4], 64, "TCPLOCALIP", lip);
    set_env(slots[5], 64, "TCPLOCALPORT", lport);
    set_env(slots[6], 64, "REMOTE_ADDR", rip);
    set_env(slots[7], 64, "REMOTE_PORT", rport);
    for (int i = 0; i < 8; ++i) envp[i] = slots[i];
    envp[8] = NULL;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0;
    long max_children = 256;
    int i = 1;
    for (; i < argc; ++i) {
        if (strcmp(argv[i], "--") == 0) {
            ++i;
            break;
        }
        if (bench_host_port_arg(argc, argv, &i, &host, &port)) continue;
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            max_children = atol(argv[++i]);
            continue;
        }
        bench_die("usage: sb-ref-spawn [-H HOST] -p PORT [-m MAX] -- PROGRAM [ARG...]");
    }
    if (port <= 0 || i >= argc) bench_die("usage: sb-ref-spawn [-H HOST] -p PORT [-m MAX] -- PROGRAM [ARG...]");
    char **child_argv = argv + i;
    bench_raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    int lfd = bench_listen(host, port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = sfd};
    if (sfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev) != 0)
        bench_die("setup: %s", strerror(errno));

    /* The child starts with default signal dispositions and an empty mask. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);

    fprintf(stderr, "sb-ref-spawn ready port=%d program=%s\n", port, child_argv[0]);
    long running = 0, spawned = 0, failed = 0;
    int accepting = 1;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) bench_die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < n; ++e) {
            if (evs[e].data.fd == sfd) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) > 0) {
                }
                while (waitpid(-1, NULL, WNOHANG) > 0) --running;
                if (!accepting && running < max_children) {
                    (void)epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
                    accepting = 1;
                }
                continue;
            }
            for (int budget = 0; budget < 64 && running < max_children; ++budget) {
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) break;
                char slots[8][64];
                char *envp[9];
                connection_env(c, slots, envp);
                posix_spawn_file_actions_t fa;
                posix_spawn_file_actions_init(&fa);
                posix_spawn_file_actions_adddup2(&fa, c, 0);
                posix_spawn_file_actions_adddup2(&fa, c, 1);
                pid_t pid;
                int rc = posix_spawn(&pid, child_argv[0], &fa, &attr, child_argv, envp);
                posix_spawn_file_actions_destroy(&fa);
                if (rc == 0) {
                    ++running;
                    ++spawned;
                } else if (++failed <= 5) {
                    fprintf(stderr, "sb-ref-spawn: spawn %s: %s\n", child_argv[0], strerror(rc));
                }
                close(c);
            }
            if (accepting && running >= max_children) {
                (void)epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
                accepting = 0;
            }
        }
    }
}
