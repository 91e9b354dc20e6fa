#!/bin/sh
# Reads the request to EOF, then answers slowly: 15 lines over 1.5 s, far
# longer than the service's grace, but never silent for a whole grace.
cat >/dev/null
i=1
while [ $i -le 15 ]; do echo "line $i"; sleep 0.1; i=$((i + 1)); done
