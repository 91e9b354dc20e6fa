#!/bin/sh
# Neither reads its stdin nor writes: only a signal ends it early.
exec sleep 30
