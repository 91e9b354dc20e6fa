/* An LD_PRELOAD shim for tests: after every successful bind() of a UNIX
 * socket to a path, appends "PATH MODE UID GID" (the file as bind() left
 * it, before the caller could change anything) to the file named by
 * $SB_BIND_LOG. It shows whether a socket file ever exists with looser
 * permissions than configured. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (real_bind == NULL) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    int rc = real_bind(fd, addr, len);
    const char *log = getenv("SB_BIND_LOG");
    if (rc != 0 || log == NULL || addr->sa_family != AF_UNIX) return rc;
    const struct sockaddr_un *sun = (const struct sockaddr_un *)addr;
    struct stat st;
    if (sun->sun_path[0] == '\0' || lstat(sun->sun_path, &st) != 0) return rc;
    char line[sizeof sun->sun_path + 64];
    int n = snprintf(line, sizeof line, "%s %o %u %u\n", sun->sun_path, (unsigned)(st.st_mode & 07777),
                     (unsigned)st.st_uid, (unsigned)st.st_gid);
    int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (out >= 0) {
        if (n > 0) (void)!write(out, line, (size_t)n);
        close(out);
    }
    return rc;
}
