#!/bin/sh
# Installs the Debian packages named as arguments that are not installed yet.
# Runs apt-get only when something is missing, so a ready machine is untouched.
set -eu
missing=""
for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Installing a server package must not start it on the host (tftpd-hpa would).
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    added_policy=1
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
[ -n "$added_policy" ] && $SUDO rm -f "$policy"
exit 0
