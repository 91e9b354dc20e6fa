#!/bin/sh
# meson install script: puts the production default configuration in
# SYSCONFDIR/switchboard/ unless one is there already (an administrator's
# file is never overwritten), and makes the services.d/ directory.
# Usage: install-config.sh SOURCE_FILE CONFIG_DIR   (DESTDIR is honoured)
set -eu
source_file=$1
dir="${DESTDIR:-}$2"
mkdir -p "$dir/services.d"
if [ -e "$dir/switchboard.json" ]; then
    echo "Keeping the existing $dir/switchboard.json"
else
    install -m 0644 "$source_file" "$dir/switchboard.json"
    echo "Installing $dir/switchboard.json"
fi
