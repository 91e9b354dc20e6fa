#!/usr/bin/python3
"""io "socket": fd 0 is the client socket itself; report what it is."""
import os
import socket
import sys

s = socket.socket(fileno=os.dup(0))
blocking = s.getblocking()
peer = s.getpeername()
sys.stdout.write(f"peer={peer[0]}:{peer[1]} blocking={blocking}\n")
sys.stdout.flush()
