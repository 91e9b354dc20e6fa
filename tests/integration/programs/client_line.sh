#!/bin/sh
# Reads one line from the client and answers with who the client is (as
# the environment says) and the line: "REMOTEIP REMOTEPORT LOCALIP LOCALPORT line".
IFS= read -r line
printf '%s %s %s %s %s\n' "$TCPREMOTEIP" "$TCPREMOTEPORT" "$TCPLOCALIP" "$TCPLOCALPORT" "$line"
