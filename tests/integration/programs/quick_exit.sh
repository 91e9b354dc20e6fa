#!/bin/sh
# A wait-mode child that fails at once, every time.
exit 1
