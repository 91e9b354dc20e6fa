#!/usr/bin/python3
"""inetd 'wait' TCP server that takes its time: says "waiting" on stderr,
sleeps BEFORE seconds, accepts one connection from fd 0, answers
"accepted pid=N", sleeps AFTER seconds, answers "done", exits 0."""
import os
import socket
import sys
import time

before, after = float(sys.argv[1]), float(sys.argv[2])
sys.stderr.write("waiting\n")
sys.stderr.flush()
time.sleep(before)
listener = socket.socket(fileno=0)
conn, _ = listener.accept()
conn.sendall(b"accepted pid=%d\n" % os.getpid())
time.sleep(after)
conn.sendall(b"done\n")
conn.close()
