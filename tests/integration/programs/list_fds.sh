#!/bin/sh
# Prints the fds the child program has (ls adds one for reading the directory).
exec /bin/ls /proc/self/fd
