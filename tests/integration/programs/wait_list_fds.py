#!/usr/bin/python3
"""A wait-mode child that reports the fds it was started with, one
"fd target" a line, to the first client of the listening socket it was
given (fd 0 in inetd style, fd 3 with LISTEN_FDS in systemd style)."""
import os
import socket

# First thing, before anything else opens a file; listdir's own fd is in it.
fds = os.listdir("/proc/self/fd")
report = "".join("%s %s\n" % (fd, os.readlink("/proc/self/fd/" + fd)) for fd in fds
                 if os.path.exists("/proc/self/fd/" + fd))
listener = socket.socket(fileno=3 if os.environ.get("LISTEN_FDS") == "1" else 0)
conn, _ = listener.accept()
conn.sendall(report.encode())
conn.close()
