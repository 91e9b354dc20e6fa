#!/bin/sh
# Ignores SIGTERM, SIGPIPE and stdin EOF, and keeps talking: only SIGKILL ends it.
trap '' TERM PIPE
echo started
while :; do echo tick; sleep 0.2; done
