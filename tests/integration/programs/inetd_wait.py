#!/usr/bin/python3
"""inetd 'wait' TCP server: the listening socket is fd 0; serve one
connection, then exit (switchboard watches the socket again)."""
import os
import socket

listener = socket.socket(fileno=0)
conn, _ = listener.accept()
conn.sendall(b"wait-child pid=%d\n" % os.getpid())
conn.close()
