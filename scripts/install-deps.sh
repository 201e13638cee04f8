#!/bin/sh
# Installs the Debian packages listed in scripts/debian-packages.txt (or in the list
# file given as the first argument, e.g. scripts/debian-packages-bench.txt). Uses sudo
# when not run as root; does nothing that is not needed. With the default list it also
# installs the browser tests' npm packages (playwright-core, package-lock.json) into
# node_modules.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
list=${1:-$here/debian-packages.txt}
pkgs=$(grep -v '^#' "$list" | grep -v '^$' | tr '\n' ' ')
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
if [ -z "$missing" ]; then
  echo "install-deps: all Debian packages present"
else
  echo "install-deps: installing$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

[ $# -eq 0 ] || exit 0
# Some nodejs builds ship npm, Debian's is a separate package.
if ! command -v npm >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
top=$(cd "$here/.." && pwd)
if [ ! -d "$top/node_modules/playwright-core" ] || [ "$top/package-lock.json" -nt "$top/node_modules" ]; then
  (cd "$top" && npm ci --no-audit --no-fund)
else
  echo "install-deps: npm packages present"
fi
