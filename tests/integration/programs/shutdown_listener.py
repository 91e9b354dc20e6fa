#!/usr/bin/python3
"""A wait-mode child that breaks the listening socket it was lent (fd 0):
the first time (while the marker file given as argv[1] does not exist) it
calls shutdown() on it and exits 0; afterwards it serves one connection
like inetd_wait.py."""
import os
import socket
import sys

listener = socket.socket(fileno=0)
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    listener.shutdown(socket.SHUT_RDWR)
    sys.exit(0)
conn, _ = listener.accept()
conn.sendall(b"wait-child pid=%d\n" % os.getpid())
conn.close()
