// Helpers for the process/ and io/ tests: pipes, blocking reads and waits,
// and running a program to completion with its stdout captured.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "switchboard/config.hpp"
#include "process/spawn.hpp"

namespace sb::test {

// A pipe the test owns; both ends O_CLOEXEC and blocking.
struct Pipe {
    int read = -1;
    int write = -1;

    Pipe() {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
            read = fds[0];
            write = fds[1];
        }
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read >= 0) ::close(read);
        read = -1;
    }
    void close_write() {
        if (write >= 0) ::close(write);
        write = -1;
    }
};

// Reads until EOF (blocking).
inline std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            return out;
        }
    }
}

// Reaps the child (blocking) and closes its pidfd.
inline siginfo_t wait_child(process::Spawned& child) {
    siginfo_t info{};
    while (waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED) < 0 && errno == EINTR) {
    }
    ::close(child.pidfd);
    child.pidfd = -1;
    return info;
}

struct RunResult {
    int rc = 0;           // spawn's result
    std::string error;    // spawn's error sentence
    std::string out;      // the child's stdout
    int code = -1;        // exit code, or -1 if killed
    pid_t pid = -1;
};

// Runs argv with stdin and stderr on /dev/null and stdout captured.
inline RunResult run(process::Spawner& spawner, std::vector<std::string> argv,
                     const config::Exec* attributes = nullptr, std::vector<std::string> env = {},
                     bool set_listen_pid = false) {
    RunResult result;
    Pipe out;
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    process::SpawnRequest request;
    request.argv = std::move(argv);
    request.env = std::move(env);
    request.set_listen_pid = set_listen_pid;
    request.attributes = attributes;
    request.fds = {{devnull, 0}, {out.write, 1}, {devnull, 2}};
    process::Spawned child;
    result.rc = spawner.spawn(request, child, result.error);
    ::close(devnull);
    out.close_write();
    if (result.rc != 0) return result;
    result.pid = child.pid;
    result.out = read_all(out.read);
    siginfo_t info = wait_child(child);
    if (info.si_code == CLD_EXITED) result.code = info.si_status;
    return result;
}

}  // namespace sb::test
