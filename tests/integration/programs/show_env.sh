#!/bin/sh
# Prints the child's environment, one VAR=value a line, sorted.
env | sort
