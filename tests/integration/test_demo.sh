#!/bin/bash
# `medify demo --no-serve`: what it prepares and that a rerun changes nothing.
#
#   first run:  cases imported, an index snapshot, three accounts whose passwords are
#               printed and kept in DIR/demo-accounts.txt (mode 0600), these
#               passwords sign in and the patient is assigned to the clinician
#               (checked with `medify serve`, curl and jq when present)
#   rerun:      "already in the store", the same snapshot, the same passwords
#   another dir: other passwords (random per data directory, not built in)
#   bad input:  unknown option, bad --cases, bad --port: exit 64 with a message
#
# Usage: test_demo.sh MEDIFY_BINARY. Exit 77 (skip) when the binary has no demo command.
set -u
MEDIFY=$1
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*" >&2
}
"$MEDIFY" demo --help >/dev/null 2>&1 || { echo "SKIP: $MEDIFY has no 'demo' command"; exit 77; }

A=$TMP/a
"$MEDIFY" demo --no-serve --data-dir "$A" --cases 60 >"$TMP/run1.out" 2>"$TMP/run1.err" || { bad "first run failed"; cat "$TMP/run1.err" >&2; exit 1; }
grep -q "60 synthetic cases imported" "$TMP/run1.out" || bad "first run did not import 60 cases: $(cat "$TMP/run1.out")"
[ -f "$A/demo-accounts.txt" ] || bad "no demo-accounts.txt"
[ "$(stat -c %a "$A/demo-accounts.txt")" = 600 ] || bad "demo-accounts.txt is not mode 0600"
for role in patient clinician admin; do
  pw=$(awk -v r=$role '$1 == r {print $3}' "$A/demo-accounts.txt")
  [ ${#pw} -eq 16 ] || bad "$role has no 16-character password"
  grep -q "$pw" "$TMP/run1.out" || bad "the $role password is not printed"
done
"$MEDIFY" index info --data-dir "$A" >/dev/null 2>&1 || bad "no current index snapshot"

"$MEDIFY" demo --no-serve --data-dir "$A" --cases 60 >"$TMP/run2.out" 2>&1 || bad "rerun failed"
grep -q "60 already in the store" "$TMP/run2.out" || bad "rerun imported again: $(cat "$TMP/run2.out")"
diff <(grep -A4 '^Accounts' "$TMP/run1.out") <(grep -A4 '^Accounts' "$TMP/run2.out") >/dev/null ||
  bad "rerun printed other accounts"
[ "$(ls "$A/index" | grep -vc current)" -eq 1 ] || bad "rerun built another index snapshot: $(ls "$A/index")"

B=$TMP/b
"$MEDIFY" demo --no-serve --data-dir "$B" --cases 20 >"$TMP/run3.out" 2>&1 || bad "second data dir failed"
[ "$(awk '$1 == "admin" {print $3}' "$A/demo-accounts.txt")" != "$(awk '$1 == "admin" {print $3}' "$B/demo-accounts.txt")" ] ||
  bad "two data directories got the same admin password"

for args in "--bogus" "--cases 0" "--cases many" "--port 70000" "--data-dir"; do
  # shellcheck disable=SC2086
  "$MEDIFY" demo --no-serve $args >"$TMP/bad.out" 2>"$TMP/bad.err"
  rc=$?
  [ $rc -eq 64 ] || bad "demo $args: exit $rc, want 64"
  grep -q "usage: medify demo" "$TMP/bad.err" || bad "demo $args: no usage on stderr"
done

# The printed passwords sign in (needs curl and the product API).
if command -v curl >/dev/null; then
  "$MEDIFY" serve --host 127.0.0.1 --port 0 --data-dir "$A" --insecure-cookies 2>"$TMP/server.log" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 1 300); do
    PORT=$(grep -m1 '"msg":"listening"' "$TMP/server.log" | grep -o '"port":[0-9]*' | cut -d: -f2)
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  if [ -n "$PORT" ]; then
    for role in patient clinician admin; do
      email=$(awk -v r=$role '$1 == r {print $2}' "$A/demo-accounts.txt")
      pw=$(awk -v r=$role '$1 == r {print $3}' "$A/demo-accounts.txt")
      body=$(curl -s -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"$pw\"}" \
        "http://127.0.0.1:$PORT/v1/auth/login")
      echo "$body" | grep -q "\"role\":\"$role\"" || bad "$role cannot sign in: $body"
      [ $role = admin ] && token=$(echo "$body" | grep -o '"token":"[^"]*"' | cut -d'"' -f4)
    done
    # the demo patient is assigned to the demo clinician
    if command -v jq >/dev/null && [ -n "${token:-}" ]; then
      users=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/v1/users")
      want=$(echo "$users" | jq '[.. | objects | select(.email? == "clinician@medify.test")][0].id')
      got=$(echo "$users" | jq '[.. | objects | select(.email? == "patient@medify.test")][0].clinician_id')
      [ "$want" != null ] && [ "$want" = "$got" ] || bad "the demo patient is not assigned to the demo clinician: $users"
    fi
  else
    bad "the server did not start: $(cat "$TMP/server.log")"
  fi
fi
[ $fail -eq 0 ] && echo "test_demo: all checks passed"
exit $((fail > 0))
