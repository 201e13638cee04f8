#!/bin/bash
# Browser tests of the web UI: `medify demo --no-serve` prepares a data directory,
# `medify serve` serves it on a loopback port the kernel picks, and node runs
# tests/browser/*.test.mjs with playwright-core driving Debian's chromium (headless,
# --no-sandbox: CI runs as root). Screenshots go to BUILD_DIR/browser-artefacts/.
#
# Usage: run.sh MEDIFY_BINARY SOURCE_DIR BUILD_DIR. Exit 77 (skip) when node, chromium
# or node_modules/playwright-core (`npm ci` at the repository root) are missing.
set -u
MEDIFY=$1
SRC=$(cd "${2:-.}" && pwd)
BUILD=$(cd "${3:-.}" && pwd)
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/debian-packages.txt: nodejs)"; exit 77; }
CHROMIUM=${MEDIFY_CHROMIUM:-}
if [ -z "$CHROMIUM" ]; then
  # Debian's /usr/bin/chromium is a wrapper script; the browser itself lives here.
  for c in /usr/lib/chromium/chromium /usr/bin/chromium /usr/bin/chromium-browser; do
    [ -x "$c" ] && { CHROMIUM=$c; break; }
  done
fi
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (scripts/debian-packages.txt: chromium)"; exit 77; }
[ -d "$SRC/node_modules/playwright-core" ] || { echo "SKIP: $SRC/node_modules/playwright-core is missing (run 'npm ci' in $SRC)"; exit 77; }
"$MEDIFY" demo --help >/dev/null 2>&1 || { echo "SKIP: $MEDIFY has no 'demo' command"; exit 77; }

DATA=$TMP/data
if ! "$MEDIFY" demo --no-serve --data-dir "$DATA" --cases 300 >"$TMP/demo.log" 2>&1; then
  echo "FAIL: medify demo --no-serve failed:" >&2
  cat "$TMP/demo.log" >&2
  exit 1
fi

# Cheap password hashing: the tests sign up several accounts under sanitizers.
"$MEDIFY" serve --host 127.0.0.1 --port 0 --threads 4 --data-dir "$DATA" --insecure-cookies \
  --password-memory-kib 1024 --password-iterations 1 \
  2>"$TMP/server.log" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 300); do # 30 s: sanitizer builds start slowly
  PORT=$(grep -m1 '"msg":"listening"' "$TMP/server.log" | grep -o '"port":[0-9]*' | cut -d: -f2)
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "FAIL: the server did not start; log:" >&2
  cat "$TMP/server.log" >&2
  exit 1
fi

ART=$BUILD/browser-artefacts
mkdir -p "$ART"
cd "$SRC"
MEDIFY_URL="http://127.0.0.1:$PORT" MEDIFY_ACCOUNTS="$DATA/demo-accounts.txt" MEDIFY_ARTEFACTS="$ART" \
  MEDIFY_CHROMIUM="$CHROMIUM" node --test --test-concurrency=1 --test-reporter=spec "$SRC"/tests/browser/*.test.mjs
rc=$?
if [ $rc -ne 0 ]; then
  echo "server log (last lines):" >&2
  tail -n 30 "$TMP/server.log" >&2
fi
if grep -qi "crushing" "$TMP/server.log"; then
  echo "FAIL: the server log holds patient text" >&2
  rc=1
fi
exit $rc
