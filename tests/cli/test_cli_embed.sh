#!/bin/bash
# CLI tests of the BERT encoder: `medify llm embed` (errors, exit codes, the JSON shape,
# the vector against llama.cpp's normalised mean-pooled embedding of the fixture model)
# and dense search: `medify index build --embed-model` (vectors in the snapshot, the
# model and width in the manifest, verify), `medify cases search` with the recorded
# model, with --embed-model, with a wrong model and on a BM25-only snapshot.
# Usage: test_cli_embed.sh MEDIFY_BINARY SOURCE_DIR FIXTURES_DIR
# Needs the fixtures' tiny-bert-f32.gguf (skips with 77 when absent) and python3.
set -u
MEDIFY=$1
SRC=$2
FIX=${3:-}
BERT="$FIX/models/tiny-bert-f32.gguf"
LLAMA="$FIX/models/tiny-llama-f32.gguf"
if [ -z "$FIX" ] || [ ! -r "$BERT" ] || [ ! -r "$FIX/ref/tiny-bert-f32.pooled_norm.f32" ]; then
  echo "SKIP: the fixture model $BERT is not readable (pass the shared fixtures directory)"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is needed to compare vectors"
  exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE DESCRIPTION -- command...
expect_exit() {
  local want=$1 desc=$2
  shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$desc: exit $got, want $want; stderr: $(head -c 300 "$TMP/err")"; fi
}

contains() { # FILE STRING DESCRIPTION
  if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 400 "$1")"; fi
}

# --- llm embed: bad input ---------------------------------------------------------------
expect_exit 64 "embed without --model" -- "$MEDIFY" llm embed --text hi
expect_exit 64 "embed bad --pooling" -- "$MEDIFY" llm embed --model "$BERT" --pooling max --text hi
expect_exit 66 "embed missing model" -- "$MEDIFY" llm embed --model "$TMP/none.gguf" --text hi --json
contains "$TMP/out" '"code":"not_found"' "missing model JSON error"
if [ -r "$LLAMA" ]; then
  expect_exit 69 "embed with a decoder" -- "$MEDIFY" llm embed --model "$LLAMA" --text hi
  contains "$TMP/err" "not a BERT encoder" "decoder refused"
fi
printf 'chest pain \xff and fever' >"$TMP/utf8"
expect_exit 65 "embed invalid UTF-8" -- "$MEDIFY" llm embed --model "$BERT" <"$TMP/utf8"
expect_exit 65 "embed empty stdin" -- "$MEDIFY" llm embed --model "$BERT" --json </dev/null
contains "$TMP/out" '"code":"empty_input"' "empty text JSON error"

# --- llm embed: the vector ----------------------------------------------------------------
S0="The patient has chest pain and shortness of breath."
expect_exit 0 "embed --json" -- "$MEDIFY" llm embed --model "$BERT" --text "$S0" --json
cp "$TMP/out" "$TMP/embed.json"
echo "$S0" | tr -d '\n' >"$TMP/s0"
expect_exit 0 "embed from stdin" -- "$MEDIFY" llm embed --model "$BERT" <"$TMP/s0"
cp "$TMP/out" "$TMP/embed.txt"
expect_exit 0 "embed --pooling cls --no-normalize" -- "$MEDIFY" llm embed --model "$BERT" --text "$S0" --pooling cls --no-normalize
cp "$TMP/out" "$TMP/embed_cls.txt"
python3 - "$TMP/embed.json" "$TMP/embed.txt" "$TMP/embed_cls.txt" "$FIX/ref/tiny-bert-f32.pooled_norm.f32" <<'EOF'
import json, math, struct, sys
v = json.load(open(sys.argv[1]))["embedding"]
t = [float(x) for x in open(sys.argv[2]).read().split()]
c = [float(x) for x in open(sys.argv[3]).read().split()]
raw = open(sys.argv[4], "rb").read()
ref = struct.unpack("<128f", raw[:512])  # sentence 0 of the fixture
dot = sum(a * b for a, b in zip(v, ref))
cos = dot / math.sqrt(sum(a * a for a in v) * sum(b * b for b in ref))
norm = math.sqrt(sum(a * a for a in v))
errs = []
if len(v) != 128: errs.append("dim %d" % len(v))
if cos < 0.9999: errs.append("cosine to llama.cpp %.9f" % cos)  # fixtures README 4.1
if abs(norm - 1) > 1e-5: errs.append("norm %.9f" % norm)
if t != v: errs.append("stdin text output differs from --json")
if len(c) != 128 or abs(math.sqrt(sum(a * a for a in c)) - 1) < 1e-3: errs.append("cls/no-normalize looks normalised")
if errs:
    print("FAIL: " + "; ".join(errs), file=sys.stderr)
    sys.exit(1)
EOF
if [ $? -eq 0 ]; then ok; else bad "embedding values"; fi

# --- index build --embed-model and dense search ----------------------------------------
DATA="$TMP/data"
expect_exit 0 "synth cases" -- "$MEDIFY" cases synth --n 12 --seed 7 --out "$TMP/cases.csv"
expect_exit 0 "ingest" -- "$MEDIFY" ingest "$TMP/cases.csv" --data-dir "$DATA" --json
# one long case (~3.7 KB): the store cuts it into several chunks, each gets a vector
python3 -c '
import json
s = " ".join("On day %d the patient reported worsening chest pain radiating to the left arm, with sweating, "
             "nausea and shortness of breath; the troponin was rising and the ECG showed new changes." % d
             for d in range(1, 21))
print(json.dumps({"id": "long-1", "text": s}))' >"$TMP/long.jsonl"
expect_exit 0 "ingest a long case" -- "$MEDIFY" ingest "$TMP/long.jsonl" --data-dir "$DATA" --json
expect_exit 64 "build bad option" -- "$MEDIFY" index build --data-dir "$DATA" --embed-model
expect_exit 66 "build missing model" -- "$MEDIFY" index build --data-dir "$DATA" --embed-model "$TMP/none.gguf"
expect_exit 0 "build with vectors" -- "$MEDIFY" index build --data-dir "$DATA" --version dense1 --embed-model "$BERT" --json
contains "$TMP/out" '"vectors":true' "build reports vectors"
contains "$TMP/out" '"embed_dim":128' "build reports the width"
contains "$TMP/out" '"n_cases":13' "build indexes every case"
if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["n_vectors"] >= 13 + 3 else 1)' "$TMP/out"; then
  ok
else
  bad "the long case should add one vector per chunk: $(cat "$TMP/out")"
fi
expect_exit 0 "index info" -- "$MEDIFY" index info --data-dir "$DATA"
contains "$TMP/out" '"embedding": {"model": ' "manifest has the model"
contains "$TMP/out" '"dim": 128}' "manifest has the width"
contains "$TMP/out" '"kind": "hnsw"' "manifest lists the HNSW file"
expect_exit 0 "index verify" -- "$MEDIFY" index verify --data-dir "$DATA" --json
contains "$TMP/out" '"ok":true' "verify ok"

echo "chest pain radiating to the left arm with sweating" >"$TMP/q"
expect_exit 0 "search with the recorded model" -- "$MEDIFY" cases search --data-dir "$DATA" --k 5 --json <"$TMP/q"
cp "$TMP/out" "$TMP/search1.json"
expect_exit 0 "search with --embed-model" -- "$MEDIFY" cases search --data-dir "$DATA" --k 5 --embed-model "$BERT" --json <"$TMP/q"
cp "$TMP/out" "$TMP/search2.json"
python3 - "$TMP/search1.json" "$TMP/search2.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))["results"]
b = json.load(open(sys.argv[2]))["results"]
errs = []
if len(a) != 5: errs.append("%d results, want 5" % len(a))
if not any(r["dense"] is not None for r in a): errs.append("no dense score in any result")
for r in a:
    if r["dense"] is not None and not (-1.0001 <= r["dense"] <= 1.0001): errs.append("dense %r is not a cosine" % r["dense"])
if [r["case_id"] for r in a] != [r["case_id"] for r in b]: errs.append("recorded model and --embed-model rank differently")
if errs:
    print("FAIL: " + "; ".join(errs), file=sys.stderr)
    sys.exit(1)
EOF
if [ $? -eq 0 ]; then ok; else bad "dense search results"; fi

if [ -r "$LLAMA" ]; then
  expect_exit 69 "search with a decoder as encoder" -- "$MEDIFY" cases search --data-dir "$DATA" --embed-model "$LLAMA" <"$TMP/q"
fi
# the same weights under another general.name ("tiny-bert" -> "tiny-bart", same length)
python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d.replace(b"tiny-bert", b"tiny-bart", 1))' "$BERT" "$TMP/other-bert.gguf"
expect_exit 75 "search with another model" -- "$MEDIFY" cases search --data-dir "$DATA" --embed-model "$TMP/other-bert.gguf" <"$TMP/q"
contains "$TMP/err" "was built with embedding model" "model mismatch message"

# --- BM25-only snapshots stay as they were ----------------------------------------------
expect_exit 0 "build without vectors" -- "$MEDIFY" index build --data-dir "$DATA" --version plain1 --json
contains "$TMP/out" '"vectors":false' "BM25-only build"
expect_exit 0 "search BM25 only" -- "$MEDIFY" cases search --data-dir "$DATA" --k 5 --json <"$TMP/q"
if grep -q '"dense":[-0-9]' "$TMP/out"; then bad "BM25-only search has dense scores"; else ok; fi
expect_exit 66 "search --embed-model on a BM25-only snapshot" -- "$MEDIFY" cases search --data-dir "$DATA" --embed-model "$BERT" <"$TMP/q"
contains "$TMP/err" "no dense vectors" "BM25-only snapshot message"

# a tampered embedding entry is refused when the manifest is read
M="$DATA/index/dense1/manifest.json"
chmod u+w "$M"
python3 -c '
import sys
p = sys.argv[1]
s = open(p).read()
open(p, "w").write(s.replace("\"dim\": 128}", "\"dim\": 0}", 1))' "$M"
expect_exit 65 "manifest with embedding dim 0" -- "$MEDIFY" index info --data-dir "$DATA" --version dense1
contains "$TMP/err" "embedding entry is invalid" "tampered embedding message"

echo "test_cli_embed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
