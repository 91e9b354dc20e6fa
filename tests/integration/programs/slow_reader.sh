#!/bin/sh
# Reads its stdin slowly: a client that floods it must not grow the server.
while :; do sleep 0.2; head -c 1024 >/dev/null || exit 0; done
