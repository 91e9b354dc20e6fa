#!/bin/sh
# Writes two lines to stderr and one to stdout, then exits with code 3.
echo "first complaint" >&2
echo "to the client"
echo "second complaint" >&2
exit 3
