#!/bin/sh
# Installs the Debian packages listed in scripts/debian-packages.txt (or in the list
# file given as the first argument, e.g. scripts/debian-packages-bench.txt). Uses sudo
# when not run as root; does nothing that is not needed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
list=${1:-$here/debian-packages.txt}
pkgs=$(grep -v '^#' "$list" | grep -v '^$' | tr '\n' ' ')
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
