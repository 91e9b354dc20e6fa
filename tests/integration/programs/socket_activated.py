#!/usr/bin/python3
"""A daemon written for systemd socket activation: refuses to run unless
LISTEN_PID is its own pid and LISTEN_FDS=1, then serves connections from fd 3
until one says 'quit'."""
import os
import socket
import sys

if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    sys.stderr.write("not socket-activated: LISTEN_PID=%s pid=%d\n" % (os.environ.get("LISTEN_PID"), os.getpid()))
    sys.exit(1)
listener = socket.socket(fileno=3)
names = os.environ.get("LISTEN_FDNAMES", "")
while True:
    conn, _ = listener.accept()
    line = conn.recv(100)
    conn.sendall(b"activated pid=%d names=%s got=%s\n" % (os.getpid(), names.encode(), line.strip()))
    conn.close()
    if line.strip() == b"quit":
        break
