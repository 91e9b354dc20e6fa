// process/spawn and process/environment: what the child really gets.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include "process/environment.hpp"
#include "process/spawn.hpp"
#include "process_support.hpp"

using namespace sb;
using sb::test::Pipe;
using sb::test::run;

namespace {

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// Fields of /proc/<pid>/stat after the command name.
std::vector<std::string> stat_fields(const std::string& stat) {
    std::vector<std::string> out;
    std::istringstream in(stat.substr(stat.rfind(')') + 2));
    for (std::string f; in >> f;) out.push_back(f);
    return out;
}

std::string ino_of(int fd) {
    struct stat st{};
    fstat(fd, &st);
    return "pipe:[" + std::to_string(st.st_ino) + "]";
}

}  // namespace

TEST_CASE("a child's exit code comes back through its pidfd") {
    process::Spawner spawner;
    auto r = run(spawner, {"/bin/sh", "-c", "exit 3"});
    REQUIRE(r.rc == 0);
    CHECK(r.code == 3);
}

TEST_CASE("the environment is exactly the one built") {
    setenv("SB_TEST_PASSED", "yes", 1);
    setenv("SB_TEST_NOT_PASSED", "no", 1);
    config::Exec exec;
    exec.env = {{"HOME", "/srv/git"}, {"LANG", "C.UTF-8"}};
    exec.pass_env = {"SB_TEST_PASSED", "SB_TEST_ABSENT"};
    process::ConnectionInfo conn;
    conn.proto = process::ConnectionInfo::Proto::tcp;
    conn.remote_ip = "192.0.2.7";
    conn.remote_port = 40000;
    conn.local_ip = "127.0.0.1";
    conn.local_port = 9418;
    auto env = process::build_environment(exec, &conn);

    process::Spawner spawner;
    auto r = run(spawner, {"/usr/bin/env"}, nullptr, env);
    REQUIRE(r.rc == 0);
    CHECK(r.code == 0);
    CHECK(lines(r.out) == env);
    CHECK(r.out.find("SB_TEST_NOT_PASSED") == std::string::npos);
    CHECK(r.out.find("HOME=/srv/git\n") != std::string::npos);
    CHECK(r.out.find("TCPREMOTEIP=192.0.2.7\n") != std::string::npos);
}

TEST_CASE("build_environment: PATH, pass_env, env, then metadata, later ones winning") {
    const char* server_env[] = {"HOME=/root", "TERM=xterm", "SECRET=1", nullptr};
    config::Exec exec;
    exec.pass_env = {"TERM", "MISSING"};
    exec.env = {{"TERM", "dumb"}, {"X", "1"}};

    SUBCASE("no PATH in the server's environment: the default") {
        auto env = process::build_environment(exec, nullptr, {}, server_env);
        CHECK(env == std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "TERM=dumb", "X=1"});
    }
    SUBCASE("the server's PATH, unless configured") {
        const char* with_path[] = {"PATH=/opt/bin", "TERM=xterm", nullptr};
        config::Exec plain;
        CHECK(process::build_environment(plain, nullptr, {}, with_path) ==
              std::vector<std::string>{"PATH=/opt/bin"});
        plain.env = {{"PATH", "/mine"}};
        CHECK(process::build_environment(plain, nullptr, {}, with_path) ==
              std::vector<std::string>{"PATH=/mine"});
    }
    SUBCASE("TCP: UCSPI and systemd names; configured values cannot fake them") {
        exec.env["TCPREMOTEIP"] = "6.6.6.6";
        process::ConnectionInfo c{process::ConnectionInfo::Proto::tcp, "::1", 5000, "::1", 7, {}, {}, {}};
        auto env = process::build_environment(exec, &c, {}, server_env);
        CHECK(env == std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "TERM=dumb", "TCPREMOTEIP=::1",
                                              "X=1", "PROTO=TCP", "TCPREMOTEPORT=5000", "TCPLOCALIP=::1",
                                              "TCPLOCALPORT=7", "REMOTE_ADDR=::1", "REMOTE_PORT=5000"});
    }
    SUBCASE("UDP: PROTO and the systemd names only") {
        config::Exec plain;
        process::ConnectionInfo c{process::ConnectionInfo::Proto::udp, "10.0.0.1", 69, "10.0.0.2", 69, {}, {}, {}};
        auto env = process::build_environment(plain, &c, {}, server_env);
        CHECK(env == std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "PROTO=UDP",
                                              "REMOTE_ADDR=10.0.0.1", "REMOTE_PORT=69"});
    }
    SUBCASE("UNIX: PROTO and the peer's credentials when known") {
        config::Exec plain;
        process::ConnectionInfo c;
        c.proto = process::ConnectionInfo::Proto::unix_stream;
        c.peer_uid = 1000;
        c.peer_gid = 100;
        c.peer_pid = 4242;
        auto env = process::build_environment(plain, &c, {}, server_env);
        CHECK(env == std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "PROTO=UNIX",
                                              "UNIXREMOTEEUID=1000", "UNIXREMOTEEGID=100", "UNIXREMOTEPID=4242"});
    }
    SUBCASE("systemd socket activation names") {
        config::Exec plain;
        auto env = process::build_environment(plain, nullptr, "tftp", server_env);
        CHECK(env == std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "LISTEN_FDS=1",
                                              "LISTEN_FDNAMES=tftp"});
    }
}

TEST_CASE("build_environment: what systemd gave the server never reaches a child, even by pass_env") {
    const char* server_env[] = {"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=1",
                                "LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=a:b", "LANG=C.UTF-8", nullptr};
    config::Exec exec;
    exec.pass_env = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                     "LANG"};
    CHECK(process::build_environment(exec, nullptr, {}, server_env) ==
          std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"});
    // A systemd-style wait child still gets its own LISTEN_* names.
    CHECK(process::build_environment(exec, nullptr, "tftp", server_env) ==
          std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "LISTEN_FDS=1",
                                   "LISTEN_FDNAMES=tftp"});
}

TEST_CASE("fd mapping puts pipes at 0, 1, 2 and 3") {
    Pipe in;
    Pipe out;
    Pipe err;
    Pipe three;
    process::SpawnRequest request;
    request.argv = {"/bin/sh", "-c", "read x; echo \"out:$x\"; echo \"err:$x\" >&2; echo \"three:$x\" >&3"};
    request.fds = {{in.read, 0}, {out.write, 1}, {err.write, 2}, {three.write, 3}};
    process::Spawner spawner;
    process::Spawned child;
    std::string error;
    REQUIRE(spawner.spawn(request, child, error) == 0);
    CHECK(error.empty());
    in.close_read();
    out.close_write();
    err.close_write();
    three.close_write();
    REQUIRE(::write(in.write, "hi\n", 3) == 3);
    in.close_write();
    CHECK(test::read_all(out.read) == "out:hi\n");
    CHECK(test::read_all(err.read) == "err:hi\n");
    CHECK(test::read_all(three.read) == "three:hi\n");
    CHECK(test::wait_child(child).si_status == 0);
}

TEST_CASE("fd mapping survives sources that collide with targets, and keeps an fd in place") {
    Pipe a;
    Pipe b;
    Pipe keep;
    Pipe out;
    // Sources at 200 and 201, swapped: placing one must not clobber the other.
    REQUIRE(dup3(a.write, 200, O_CLOEXEC) == 200);
    REQUIRE(dup3(b.write, 201, O_CLOEXEC) == 201);
    process::SpawnRequest request;
    request.argv = {"/usr/bin/readlink", "/proc/self/fd/200", "/proc/self/fd/201",
                    "/proc/self/fd/" + std::to_string(keep.read)};
    request.fds = {{200, 201}, {201, 200}, {out.write, 1}, {keep.read, keep.read}};
    process::Spawner spawner;
    process::Spawned child;
    std::string error;
    REQUIRE(spawner.spawn(request, child, error) == 0);
    out.close_write();
    std::string got = test::read_all(out.read);
    CHECK(test::wait_child(child).si_status == 0);
    CHECK(lines(got) == std::vector<std::string>{ino_of(b.write), ino_of(a.write), ino_of(keep.read)});
    // The parent's own fds are untouched.
    CHECK(ino_of(200) == ino_of(a.write));
    CHECK((fcntl(keep.read, F_GETFD) & FD_CLOEXEC) != 0);
    ::close(200);
    ::close(201);
}

TEST_CASE("nothing the server holds open leaks into the child") {
    int leaky = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
    int leaky_high = fcntl(leaky, F_DUPFD, 300);
    REQUIRE(leaky >= 0);
    REQUIRE(leaky_high >= 300);
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    Pipe out;
    Pipe three;

    auto listed = [&](std::vector<process::FdMapping> fds) {
        process::SpawnRequest request;
        request.argv = {"/bin/ls", "/proc/self/fd"};
        request.fds = std::move(fds);
        process::Spawner spawner;
        process::Spawned child;
        std::string error;
        REQUIRE(spawner.spawn(request, child, error) == 0);
        return child;
    };
    SUBCASE("0, 1, 2 mapped: ls sees them and the directory it reads (3)") {
        auto child = listed({{devnull, 0}, {out.write, 1}, {devnull, 2}});
        out.close_write();
        auto got = lines(test::read_all(out.read));
        CHECK(test::wait_child(child).si_status == 0);
        CHECK(got == std::vector<std::string>{"0", "1", "2", "3"});
    }
    SUBCASE("with fd 3 mapped, ls's directory is 4") {
        auto child = listed({{devnull, 0}, {out.write, 1}, {devnull, 2}, {three.write, 3}});
        out.close_write();
        auto got = lines(test::read_all(out.read));
        CHECK(test::wait_child(child).si_status == 0);
        CHECK(got == std::vector<std::string>{"0", "1", "2", "3", "4"});
    }
    SUBCASE("unmapped low fds are closed too") {
        auto child = listed({{out.write, 1}});
        out.close_write();
        auto got = lines(test::read_all(out.read));
        CHECK(test::wait_child(child).si_status == 0);
        CHECK(got == std::vector<std::string>{"0", "1"});  // ls's directory takes the lowest free fd
    }
    ::close(devnull);
    ::close(leaky);
    ::close(leaky_high);
}

TEST_CASE("a program that cannot be run is an error naming execve, with nothing left behind") {
    process::Spawner spawner;
    auto r = run(spawner, {"/nonexistent/program"});
    CHECK(r.rc == -ENOENT);
    CHECK(r.error == "execve /nonexistent/program: No such file or directory");
    CHECK(waitpid(-1, nullptr, WNOHANG) == -1);  // reaped already: no child at all
    CHECK(errno == ECHILD);

    char path[] = "/tmp/sb-spawn-test-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "not a program\n", 14) == 14);
    ::close(fd);
    chmod(path, 0644);
    r = run(spawner, {path});
    CHECK(r.rc == -EACCES);
    CHECK(r.error == std::string("execve ") + path + ": Permission denied");
    chmod(path, 0755);
    r = run(spawner, {path});
    CHECK(r.rc == -ENOEXEC);
    CHECK(r.error == std::string("execve ") + path + ": Exec format error");
    unlink(path);

    r = run(spawner, {"bin/sh"});
    CHECK(r.rc == -EINVAL);
    CHECK(r.error == "spawn: argv[0] must be an absolute path");

    spawner.fail_next_clone(EAGAIN);
    r = run(spawner, {"/bin/true"});
    CHECK(r.rc == -EAGAIN);
    CHECK(r.error == "clone: Resource temporarily unavailable");
    CHECK(run(spawner, {"/bin/true"}).code == 0);  // the seam fires once
}

TEST_CASE("bad fd mappings are refused before anything starts") {
    process::Spawner spawner;
    process::SpawnRequest request;
    request.argv = {"/bin/true"};
    process::Spawned child;
    std::string error;
    request.fds = {{1, 3}, {2, 3}};
    CHECK(spawner.spawn(request, child, error) == -EINVAL);
    CHECK(error == "spawn: fd 3 is mapped twice");
    request.fds = {{-1, 0}};
    CHECK(spawner.spawn(request, child, error) == -EBADF);
    request.fds = {{9999, 0}};  // not open: the child fails to dup it
    CHECK(spawner.spawn(request, child, error) == -EBADF);
    CHECK(error == "dup2 fd 9999 to 0: Bad file descriptor");
}

TEST_CASE("rlimits are applied, and a bad one names itself") {
    config::Exec exec;
    exec.rlimits = {{RLIMIT_NOFILE, "nofile", 64, 64}};
    process::Spawner spawner;
    auto r = run(spawner, {"/bin/sh", "-c", "ulimit -n"}, &exec);
    REQUIRE(r.rc == 0);
    CHECK(r.out == "64\n");

    exec.rlimits = {{RLIMIT_CORE, "core", 0, 0}, {RLIMIT_NOFILE, "nofile", 128, 64}};  // soft above hard
    r = run(spawner, {"/bin/true"}, &exec);
    CHECK(r.rc == -EINVAL);
    CHECK(r.error == "setrlimit nofile: Invalid argument");
}

TEST_CASE("umask and cwd are applied; the default cwd is /") {
    config::Exec exec;
    exec.umask = 027;
    exec.cwd = "/tmp";
    process::Spawner spawner;
    auto r = run(spawner, {"/bin/sh", "-c", "umask; pwd"}, &exec);
    REQUIRE(r.rc == 0);
    CHECK(r.out == "0027\n/tmp\n");

    r = run(spawner, {"/bin/sh", "-c", "pwd"});
    CHECK(r.out == "/\n");

    exec.cwd = "/nonexistent/dir";
    r = run(spawner, {"/bin/true"}, &exec);
    CHECK(r.rc == -ENOENT);
    CHECK(r.error == "chdir /nonexistent/dir: No such file or directory");
}

TEST_CASE("LISTEN_PID is the child's own pid") {
    process::Spawner spawner;
    auto r = run(spawner, {"/bin/sh", "-c", "echo $LISTEN_PID $$"}, nullptr, {"LISTEN_PID=1", "LISTEN_FDS=1"}, true);
    REQUIRE(r.rc == 0);
    CHECK(r.out == std::to_string(r.pid) + " " + std::to_string(r.pid) + "\n");
    // Twice, so that the reused buffer is rewritten.
    r = run(spawner, {"/bin/sh", "-c", "echo $LISTEN_PID $$"}, nullptr, {}, true);
    CHECK(r.out == std::to_string(r.pid) + " " + std::to_string(r.pid) + "\n");
}

TEST_CASE("the child starts with no blocked and no ignored signals") {
    struct sigaction ignore{};
    struct sigaction old_pipe{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old_pipe);
    sigset_t block;
    sigset_t old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);

    process::Spawner spawner;
    auto r = run(spawner, {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"});
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    sigaction(SIGPIPE, &old_pipe, nullptr);
    REQUIRE(r.rc == 0);
    CHECK(r.out == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

namespace {
void ignore_signal(int) {}

// The SigIgn and SigCgt lines of a /proc/PID/status text.
std::string ignored_and_caught(const std::string& status) {
    std::string out;
    std::size_t at = 0;
    while (at < status.size()) {
        std::size_t end = status.find('\n', at);
        if (end == std::string::npos) end = status.size();
        std::string line = status.substr(at, end - at);
        if (line.starts_with("SigIgn:") || line.starts_with("SigCgt:")) out += line + "\n";
        at = end + 1;
    }
    return out;
}
}  // namespace

TEST_CASE("signals the server handles or ignores are back at their default in the child") {
    // Dispositions are read at the first spawn; one changed later is seen
    // after reread_signal_dispositions(). SIG_IGN is what would survive
    // execve (a handler cannot; resetting it closes the window before the
    // exec, which no test can see). cat installs no handler of its own.
    struct sigaction ignore{};
    ignore.sa_handler = SIG_IGN;
    struct sigaction handle{};
    handle.sa_handler = ignore_signal;
    struct sigaction old_usr1{};
    struct sigaction old_usr2{};
    struct sigaction old_winch{};
    sigaction(SIGUSR1, &handle, &old_usr1);
    sigaction(SIGUSR2, &ignore, &old_usr2);
    process::Spawner spawner;
    auto first = run(spawner, {"/bin/cat", "/proc/self/status"});
    sigaction(SIGWINCH, &ignore, &old_winch);
    spawner.reread_signal_dispositions();
    auto second = run(spawner, {"/bin/cat", "/proc/self/status"});
    sigaction(SIGUSR1, &old_usr1, nullptr);
    sigaction(SIGUSR2, &old_usr2, nullptr);
    sigaction(SIGWINCH, &old_winch, nullptr);
    REQUIRE(first.rc == 0);
    CHECK(ignored_and_caught(first.out) == "SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n");
    REQUIRE(second.rc == 0);
    CHECK(ignored_and_caught(second.out) == "SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n");
}

TEST_CASE("new_session makes the child a session and group leader") {
    config::Exec exec;
    exec.new_session = true;
    process::Spawner spawner;
    auto r = run(spawner, {"/bin/cat", "/proc/self/stat"}, &exec);
    REQUIRE(r.rc == 0);
    auto f = stat_fields(r.out);  // state ppid pgrp session ...
    REQUIRE(f.size() > 3);
    CHECK(f[2] == std::to_string(r.pid));
    CHECK(f[3] == std::to_string(r.pid));

    exec.new_session = false;
    r = run(spawner, {"/bin/cat", "/proc/self/stat"}, &exec);
    f = stat_fields(r.out);
    CHECK(f[3] == std::to_string(getsid(0)));
}

TEST_CASE("credentials, nice and no_new_privileges (root only)") {
    if (geteuid() != 0) {
        MESSAGE("skipped: needs root");
        return;
    }
    // A second thread: glibc's setuid() in a CLONE_VM child would change the
    // credentials of every thread of the server. The raw syscalls must not.
    std::atomic<bool> stop{false};
    std::atomic<uid_t> thread_euid{0};
    std::thread other([&] {
        while (!stop) {
            thread_euid = geteuid();
            usleep(1000);
        }
    });
    config::Exec exec;
    exec.credentials.user_name = "nobody";
    exec.credentials.uid = 65534;
    exec.credentials.gid = 65534;
    exec.credentials.supplementary = {65534, 4};
    exec.nice = 7;
    exec.no_new_privileges = true;
    process::Spawner spawner;
    auto r = run(spawner, {"/bin/grep", "-E", "^(Uid|Gid|Groups|NoNewPrivs):", "/proc/self/status"}, &exec);
    auto stat = run(spawner, {"/bin/cat", "/proc/self/stat"}, &exec);
    usleep(5000);
    stop = true;
    other.join();
    REQUIRE(r.rc == 0);
    CHECK(r.out ==
          "Uid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\nGroups:\t4 65534 \nNoNewPrivs:\t1\n");
    CHECK(stat_fields(stat.out).at(16) == "7");  // field 19: nice
    CHECK(geteuid() == 0);
    CHECK(getegid() == 0);
    CHECK(thread_euid == 0);

    exec.credentials.uid.reset();  // group only: gid and groups change, uid stays
    exec.no_new_privileges = false;
    r = run(spawner, {"/bin/grep", "-E", "^(Uid|Gid):", "/proc/self/status"}, &exec);
    CHECK(r.out == "Uid:\t0\t0\t0\t0\nGid:\t65534\t65534\t65534\t65534\n");
}
