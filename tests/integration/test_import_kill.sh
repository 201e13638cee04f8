#!/bin/bash
# Kill -9 in the middle of an import, rerun, and compare with one clean run.
#
# Generates ~20,000 PMC-Patients-format rows, imports them once into a fresh data
# directory (the reference), then starts the same import into another directory,
# waits until a few batches have committed, kills it with SIGKILL, reruns it, and
# checks that both stores hold exactly the same cases and chunks (count and digest
# from store_digest), that the rerun resumed rather than started over, that a second
# run adds nothing. The clean run and the killed run go side by side to keep the test
# short. (--restart, offering every row again as a duplicate, is covered by
# tests/unit/test_import_hostile.c.)
# Usage: test_import_kill.sh MEDIFY STORE_DIGEST SOURCE_DIR
set -u
MEDIFY=$1
DIGEST=$2
SRC=$3
N_ROWS=${MEDIFY_KILL_TEST_ROWS:-20000}
BATCH=200
TMP=$(mktemp -d)
pid=
clean_pid=
cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi
    if [ -n "$clean_pid" ]; then kill -9 "$clean_pid" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
json_field() { # FILE KEY: the raw value of "KEY": in a one-line JSON object
    sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p" "$1"
}

if ! "$MEDIFY" ingest --help >/dev/null 2>&1; then
    echo "SKIP: this medify has no 'ingest' command (add it to the command table in src/cli/main.c)"
    exit 77
fi

"$SRC/tests/integration/gen_pmc_csv.sh" "$N_ROWS" 6 7 >"$TMP/pmc.csv" || { echo "FAIL: generator" >&2; exit 1; }

# 1. The reference: one clean run (in the background, checked after step 2).
"$MEDIFY" ingest "$TMP/pmc.csv" --data-dir "$TMP/clean" --batch-rows $BATCH --json >"$TMP/clean.json" 2>"$TMP/clean.err" &
clean_pid=$!

# 2. Killed mid-way: wait for at least 5 committed batches, then SIGKILL.
"$MEDIFY" ingest "$TMP/pmc.csv" --data-dir "$TMP/killed" --batch-rows $BATCH --log-level info \
    >"$TMP/killed.out" 2>"$TMP/killed.log" &
pid=$!
for _ in $(seq 1 6000); do
    n=$(grep -c '"import batch committed"' "$TMP/killed.log" 2>/dev/null)
    [ "${n:-0}" -ge 5 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    pid=
else
    pid=
    bad "the import finished before it could be killed; raise MEDIFY_KILL_TEST_ROWS"
fi
partial=$("$DIGEST" "$TMP/killed")
n_partial=${partial%% *}
echo "killed after $(grep -c '"import batch committed"' "$TMP/killed.log") batches; $n_partial cases stored"
if [ "$n_partial" -le 0 ] || [ "$n_partial" -ge "$N_ROWS" ]; then bad "partial store holds $n_partial cases"; fi
[ $((n_partial % BATCH)) -eq 0 ] || bad "partial store holds $n_partial cases: not whole batches"

wait "$clean_pid" || bad "clean run failed: $(cat "$TMP/clean.err")"
clean_pid=
ref=$("$DIGEST" "$TMP/clean")
[ "$(json_field "$TMP/clean.json" imported)" = "$N_ROWS" ] || bad "clean run imported $(json_field "$TMP/clean.json" imported), want $N_ROWS"
[ "${ref%% *}" = "$N_ROWS" ] || bad "clean store holds ${ref%% *} cases, want $N_ROWS"
n_chunks=$(echo "$ref" | cut -d' ' -f2)
[ "$n_chunks" -gt 0 ] || bad "no chunks in the clean store: the long texts were not split"

# 3. Rerun: resumes and ends with exactly the reference store.
"$MEDIFY" ingest "$TMP/pmc.csv" --data-dir "$TMP/killed" --batch-rows $BATCH --json >"$TMP/resumed.json" 2>"$TMP/resumed.err" ||
    bad "resumed run failed: $(cat "$TMP/resumed.err")"
[ "$(json_field "$TMP/resumed.json" resumed)" = "true" ] || bad "rerun did not resume: $(cat "$TMP/resumed.json")"
[ "$(json_field "$TMP/resumed.json" imported_this_run)" = "$((N_ROWS - n_partial))" ] ||
    bad "rerun imported $(json_field "$TMP/resumed.json" imported_this_run), want $((N_ROWS - n_partial))"
got=$("$DIGEST" "$TMP/killed")
[ "$got" = "$ref" ] || bad "store after kill + rerun differs: '$got' vs clean '$ref'"

# 4. A second run adds nothing.
"$MEDIFY" ingest "$TMP/pmc.csv" --data-dir "$TMP/killed" --json >"$TMP/again.json" 2>&1 || bad "second run failed"
[ "$(json_field "$TMP/again.json" already_done)" = "true" ] || bad "second run re-read the file: $(cat "$TMP/again.json")"
[ "$("$DIGEST" "$TMP/killed")" = "$ref" ] || bad "second run changed the store"

if [ $fail -ne 0 ]; then
    echo "test_import_kill: $fail failure(s)" >&2
    exit 1
fi
echo "test_import_kill: ok ($N_ROWS rows, killed at $n_partial, digest ${ref##* })"
