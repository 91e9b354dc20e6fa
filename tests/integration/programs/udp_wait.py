#!/usr/bin/python3
"""inetd 'wait' UDP server: the socket is fd 0 with a datagram waiting;
answer it with our pid and what it said, then exit."""
import os
import socket

sock = socket.socket(fileno=0)
data, peer = sock.recvfrom(2048)
sock.sendto(b"pid=%d got=%s" % (os.getpid(), data), peer)
