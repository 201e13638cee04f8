#!/bin/bash
# CLI contract tests: exit codes and messages for bad input, the JSON shape of
# `medify assess --json`, `medify chat` over a pipe, `medify kb check` on broken
# knowledge bases. Usage: test_cli.sh MEDIFY_BINARY SOURCE_DIR
set -u
MEDIFY=$1
SRC=$2
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

# --- bad input: clear error, non-zero exit, no crash ----------------------------------
expect_exit 65 "empty stdin" -- "$MEDIFY" assess --json </dev/null
contains "$TMP/err" "empty" "empty stdin message"
contains "$TMP/out" '"code":"empty_input"' "empty stdin JSON error"

printf '   \n\t\n' >"$TMP/blank"
expect_exit 65 "blank stdin" -- "$MEDIFY" assess <"$TMP/blank"

head -c 10485760 /dev/zero | tr '\0' 'a' >"$TMP/big"
expect_exit 65 "10 MB stdin" -- "$MEDIFY" assess --json <"$TMP/big"
contains "$TMP/err" "larger than 65536 bytes" "10 MB message"
contains "$TMP/out" '"code":"too_large"' "10 MB JSON error"

head -c 4096 /dev/urandom >"$TMP/bin"
printf '\0\0\0' >>"$TMP/bin"
expect_exit 65 "binary stdin" -- "$MEDIFY" assess <"$TMP/bin"
contains "$TMP/err" "binary" "binary message"

printf 'chest pain \xff\xfe and fever' >"$TMP/utf8"
expect_exit 65 "invalid UTF-8 stdin" -- "$MEDIFY" assess --json <"$TMP/utf8"
contains "$TMP/err" "UTF-8" "invalid UTF-8 message"
contains "$TMP/out" '"code":"invalid_utf8"' "invalid UTF-8 JSON error"

expect_exit 64 "bad --age" -- "$MEDIFY" assess --age lots </dev/null
expect_exit 64 "bad --sex" -- "$MEDIFY" assess --sex other </dev/null
expect_exit 64 "unknown option" -- "$MEDIFY" assess --frobnicate </dev/null
expect_exit 64 "unknown command" -- "$MEDIFY" frobnicate
expect_exit 66 "explain unknown condition" -- "$MEDIFY" explain --condition no_such_thing <<<"cough"

# --- the assess JSON contract ---------------------------------------------------------
echo "I have crushing chest pain spreading to my left arm and I'm sweating" >"$TMP/mi"
expect_exit 0 "assess chest pain" -- "$MEDIFY" assess --age 58 --sex male --json <"$TMP/mi"
for key in '"triage":{"level":"emergency_ambulance"' '"emergency":true' '"red_flags":[{"id":"cardiac_chest_pain"' \
  '"observations":[' '"conditions":[' '"next_question":null' '"should_stop":true' \
  '"patient":{"age":58,"sex":"male"}' '"summary":{"chief_complaint"' '"notice":"medify is not a diagnosis'; do
  contains "$TMP/out" "$key" "assess JSON"
done
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["conditions"])>=10; assert d["conditions"][0]["probability"]>=d["conditions"][1]["probability"]' "$TMP/out" && ok || bad "assess JSON parse/order"
fi

echo "no chest pain, no trouble breathing, just a runny nose and sneezing" | "$MEDIFY" assess --json >"$TMP/out"
contains "$TMP/out" '"red_flags":[]' "negated red flags"
contains "$TMP/out" '"emergency":false' "negated emergency"
contains "$TMP/out" '"level":"self_care"' "cold is self care"

# --- chat over a pipe -----------------------------------------------------------------
printf 'I have had a headache for 2 days\nno\nno\nno\nno\n30\nfemale\n1\ndone\n' >"$TMP/chat_in"
expect_exit 0 "chat pipe" -- "$MEDIFY" chat <"$TMP/chat_in"
contains "$TMP/out" "CLINICAL SUMMARY" "chat summary"
contains "$TMP/out" "Chief complaint: Headache" "chat chief complaint"
contains "$TMP/out" "medify is not a diagnosis" "chat notice"

printf 'my face is drooping on one side and my speech is slurred\n' | "$MEDIFY" chat >"$TMP/out"
contains "$TMP/out" "!!! emergency_ambulance" "chat emergency banner"
contains "$TMP/out" "RED FLAGS" "chat emergency summary"

printf 'I want to kill myself\n' | "$MEDIFY" chat >"$TMP/out"
contains "$TMP/out" "116 123" "crisis resources shown"

expect_exit 0 "chat at EOF" -- "$MEDIFY" chat </dev/null
contains "$TMP/out" "No symptoms were described" "chat without input"

# --- kb check / stats -----------------------------------------------------------------
expect_exit 0 "kb check built-in" -- "$MEDIFY" kb check
expect_exit 0 "kb check source dir" -- "$MEDIFY" kb check --kb "$SRC/data/kb"
for d in "$SRC"/tests/corrupt/kb/*/; do
  name=$(basename "$d")
  expect_exit 78 "kb check corrupt/$name" -- "$MEDIFY" kb check --kb "$d"
  want=$(cat "$d/EXPECT")
  contains "$TMP/out" "$want" "kb check corrupt/$name message"
done
expect_exit 0 "kb stats" -- "$MEDIFY" kb stats --json
contains "$TMP/out" '"conditions":' "kb stats JSON"
MEDIFY_KB=/nonexistent expect_exit 74 "MEDIFY_KB missing dir" -- "$MEDIFY" assess <<<"cough"

# --- settings: flags > MEDIFY_* env > config file > defaults -------------------------
printf 'kb = /nonexistent/kb\n' >"$TMP/bad.conf"
expect_exit 74 "config file kb" -- "$MEDIFY" assess --config "$TMP/bad.conf" <<<"cough"
expect_exit 0 "flag beats config file" -- "$MEDIFY" assess --config "$TMP/bad.conf" --kb "$SRC/data/kb" <<<"cough"
MEDIFY_KB="$SRC/data/kb" expect_exit 0 "env beats config file" -- "$MEDIFY" assess --config "$TMP/bad.conf" <<<"cough"
MEDIFY_CONFIG="$TMP/bad.conf" expect_exit 74 "MEDIFY_CONFIG names the file" -- "$MEDIFY" assess <<<"cough"
printf 'log-level = loud\n' >"$TMP/loud.conf"
expect_exit 78 "bad log level" -- "$MEDIFY" assess --config "$TMP/loud.conf" <<<"cough"
printf 'colour = red\n' >"$TMP/unknown.conf"
expect_exit 78 "unknown setting" -- "$MEDIFY" assess --config "$TMP/unknown.conf" <<<"cough"
expect_exit 78 "missing config file" -- "$MEDIFY" assess --config "$TMP/none.conf" <<<"cough"

# --- logs: JSON lines, counts only, never the patient's words ---------------------------
echo "my secret phrase is zebra, and I have crushing chest pain" >"$TMP/secret"
MEDIFY_LOG_LEVEL=info "$MEDIFY" assess <"$TMP/secret" >/dev/null 2>"$TMP/log"
contains "$TMP/log" '"msg":"assessment"' "assessment logged"
contains "$TMP/log" '"triage":"emergency_ambulance"' "triage logged"
if grep -q "zebra\|crushing" "$TMP/log"; then bad "patient text in logs"; else ok; fi
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$TMP/log" && ok || bad "log lines are JSON"
fi

# --- llm: GGUF inspection and tokenizers (when the engine is built and fixtures exist) ---
FIX="$SRC/../shared/fixtures"
if "$MEDIFY" help | grep -q "^  llm"; then
  expect_exit 66 "llm missing model" -- "$MEDIFY" llm info --model "$TMP/none.gguf"
  printf 'GGUF\003\000' >"$TMP/trunc.gguf"
  expect_exit 65 "llm truncated model" -- "$MEDIFY" llm info --model "$TMP/trunc.gguf"
  if [ -f "$FIX/vocab/ggml-vocab-llama3-bpe.gguf" ]; then
    "$MEDIFY" llm tokenize --model "$FIX/vocab/ggml-vocab-llama3-bpe.gguf" --text "Hello world" --json >"$TMP/out"
    contains "$TMP/out" '{"tokens":[9906,1917]}' "llama3 tokenize"
    printf 'Hello world' | "$MEDIFY" llm tokenize --model "$FIX/vocab/ggml-vocab-llama3-bpe.gguf" >"$TMP/out"
    contains "$TMP/out" "9906 1917" "llama3 tokenize from stdin"
    "$MEDIFY" llm info --model "$FIX/models/tiny-llama-f32.gguf" --json >"$TMP/out"
    contains "$TMP/out" '"architecture":"llama"' "llm info"
    expect_exit 0 "llm logits" -- "$MEDIFY" llm logits --model "$FIX/models/tiny-llama-f32.gguf" --tokens "1 2 3" --json
    contains "$TMP/out" '{"logits":[[' "llm logits JSON"
    expect_exit 64 "llm logits bad token" -- "$MEDIFY" llm logits --model "$FIX/models/tiny-llama-f32.gguf" --tokens "1 x 3"
  else
    echo "skipping llm fixture checks: $FIX not present"
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
