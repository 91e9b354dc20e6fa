// UNIX socket files: creating one with the configured mode and owner and no
// moment of looser permissions, changing them later on that very file only
// (never through a symlink, never on a file someone put in its place), and
// removing it only while it is still ours. Plus the rule every socket
// directory must pass: no other user can replace what is in it.
//
// Nothing here keeps state; a SocketFile is a plain value that the owner of
// the socket (a Listener, the control server) keeps beside its fd.
#pragma once

#include <sys/types.h>

#include <string>

#include "switchboard/net/listen.hpp"

namespace sb::net {

// A UNIX socket file this process created, and its identity when created,
// so that it is never touched once another process has put its own there.
struct SocketFile {
    std::string path;  // empty: none (abstract, or not UNIX)
    dev_t dev = 0;
    ino_t ino = 0;
};

// Why another user could replace a socket at `path` (its directory, or the
// nearest existing ancestor when the rest would be created, is owned by
// another user than root and us, or is writable by group or others without
// the sticky bit); empty when none can. Follows symlinks in the directory
// part, as the kernel does when binding.
[[nodiscard]] std::string socket_directory_problem(const std::string& path);

// Binds the unbound UNIX socket `fd` to the file `path` and gives the file
// `options`' mode and owner before anyone can use it: the file is created
// under a umask that leaves it 0600 (the loop thread is the only thread that
// creates files), then chown and chmod apply to it alone. Missing parent
// directories are created 0755; an existing stale socket file is replaced,
// anything else at `path` is an error. Returns 0 and sets `out`, or a
// negative errno with `why` set (a sentence, without the path).
[[nodiscard]] int bind_socket_file(int fd, const std::string& path, const SocketOptions& options, SocketFile& out,
                                   std::string& why);

// Sets the mode and owner of `file` if its path still names that very
// socket (same device and inode, not a symlink). Returns 0, or a negative
// errno with `why` set; -ESTALE when the path is no longer our socket.
[[nodiscard]] int set_socket_file_access(const SocketFile& file, const SocketOptions& options, std::string& why);

// Removes `file` if it is still the one that was created (same device and
// inode). Every listener that created a socket file removes it this way.
void remove_socket_file(const SocketFile& file);

}  // namespace sb::net
