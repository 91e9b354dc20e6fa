// UNIX socket files (see socket_file.hpp).
#include "net/socket_file.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "switchboard/fd.hpp"
#include "sys/faults.hpp"

namespace sb::net {
namespace {

// errno as a negative return value, and as a sentence in `why`.
int failure(std::string& why, const char* what = nullptr) {
    int err = errno;
    why = what != nullptr ? std::string(what) + ": " + std::strerror(err) : std::string(std::strerror(err));
    return -err;
}

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// The directory a socket file would be created in, or its nearest existing
// ancestor when the missing ones would be created (whoever may write there
// could create them first). Empty when nothing exists.
std::string existing_parent(const std::string& path, struct stat& st) {
    std::string dir = path;
    for (;;) {
        auto slash = dir.rfind('/');
        if (slash == std::string::npos) return {};
        dir.resize(slash == 0 ? 1 : slash);
        if (::stat(dir.c_str(), &st) == 0) return dir;
        if (dir == "/") return {};
    }
}

// mkdir -p for the directory part of `path`. A directory made here is 0755
// whatever the umask, and ours.
void make_parents(const std::string& path) {
    for (std::size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; ++pos) {
        std::string dir = path.substr(0, pos);
        if (::mkdir(dir.c_str(), 0755) != 0) continue;
        Fd made(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (made) (void)::fchmod(made.get(), 0755);
    }
}

// Removes `path` when it is a socket file no one listens on. Returns 0 when
// the path is free to bind, or a negative errno explaining why not.
//
// The probe connects without blocking: a listener whose backlog is full
// would otherwise hold the caller (the loop, during a reload) until it
// accepts. EAGAIN, like a connection made or in progress, means someone
// listens; only ECONNREFUSED means the file is stale.
int clear_stale_unix_path(const std::string& path, std::string& why) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? 0 : failure(why);
    if (!S_ISSOCK(st.st_mode)) {
        why = S_ISLNK(st.st_mode) ? "exists and is a symbolic link, not a socket" : "exists and is not a socket";
        return -EEXIST;
    }
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe) return failure(why);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    int rc = ::connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    int err = errno;
    probe.reset();
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
        why = "is in use by a running server";
        return -EADDRINUSE;
    }
    if (err != ECONNREFUSED) {
        errno = err;
        return failure(why);
    }
    return ::unlink(path.c_str()) == 0 || errno == ENOENT ? 0 : failure(why);
}

}  // namespace

std::string socket_directory_problem(const std::string& path) {
    if (path.empty() || path.front() != '/') return {};
    struct stat st{};
    std::string dir = existing_parent(path, st);
    if (dir.empty() || !S_ISDIR(st.st_mode)) return {};  // binding says what is wrong
    const std::string where = "the directory " + dir + " of the UNIX socket " + path;
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        return where + " is owned by uid " + std::to_string(st.st_uid) +
               ", who could replace the socket; use a directory owned by root (or by the server's user)";
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
        return where + " is writable by other users (mode " + octal_mode(st.st_mode) +
               ", no sticky bit), who could replace the socket; make it 0755, or sticky like /tmp";
    }
    return {};
}

int bind_socket_file(int fd, const std::string& path, const SocketOptions& options, SocketFile& out,
                     std::string& why) {
    out = {};
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.empty() || path.size() + 1 > sizeof sun.sun_path) {
        why = std::strerror(ENAMETOOLONG);
        return -ENAMETOOLONG;
    }
    std::memcpy(sun.sun_path, path.data(), path.size());
    if (std::string problem = socket_directory_problem(path); !problem.empty()) {
        why = problem;
        return -EPERM;
    }
    make_parents(path);
    if (int rc = clear_stale_unix_path(path, why); rc < 0) return rc;
    // The file is born 0600 and ours, tighter than any configuration, and
    // nobody can connect before listen() anyway; the configured mode and
    // owner are applied below, to this file only. umask is per process: the
    // loop thread is the only one that creates files (the threadpool only
    // reads the configuration), so nothing else is created under it.
    auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    mode_t old_umask = ::umask(0177);
    int rc = sys::bind(fd, reinterpret_cast<sockaddr*>(&sun), length);
    int err = errno;
    ::umask(old_umask);
    if (rc != 0) {
        why = std::strerror(err);
        return -err;
    }
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid()) {
        why = "the socket file was replaced as it was created";
        return -EEXIST;
    }
    SocketFile file{path, st.st_dev, st.st_ino};
    if (int set = set_socket_file_access(file, options, why); set < 0) {
        remove_socket_file(file);
        return set;
    }
    out = file;
    return 0;
}

int set_socket_file_access(const SocketFile& file, const SocketOptions& options, std::string& why) {
    if (file.path.empty()) return 0;
    // O_PATH | O_NOFOLLOW: a handle on whatever the path names now, a
    // symlink included, without opening (or following) it.
    Fd at(::open(file.path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st{};
    if (!at || ::fstat(at.get(), &st) != 0) return failure(why);
    if (!S_ISSOCK(st.st_mode) || st.st_dev != file.dev || st.st_ino != file.ino) {
        why = "is no longer the socket the server created (replaced, or a symbolic link): left alone";
        return -ESTALE;
    }
    if (options.owner || options.group) {
        if (::fchownat(at.get(), "", options.owner.value_or(static_cast<uid_t>(-1)),
                       options.group.value_or(static_cast<gid_t>(-1)), AT_EMPTY_PATH) != 0) {
            return failure(why, "cannot change its owner");
        }
    }
    // fchmod does not reach a socket's file, and Linux has no lchmod: chmod
    // through /proc's link to the very inode we hold. Without /proc, the
    // path itself, just checked (its directory is one no other user can
    // change).
    std::string via = "/proc/self/fd/" + std::to_string(at.get());
    int rc = ::chmod(via.c_str(), options.mode);
    if (rc != 0 && errno == ENOENT) rc = ::fchmodat(AT_FDCWD, file.path.c_str(), options.mode, 0);
    if (rc != 0) return failure(why, "cannot change its mode");
    return 0;
}

void remove_socket_file(const SocketFile& file) {
    if (file.path.empty()) return;
    struct stat st{};
    if (::lstat(file.path.c_str(), &st) == 0 && st.st_dev == file.dev && st.st_ino == file.ino) {
        ::unlink(file.path.c_str());
    }
}

}  // namespace sb::net
