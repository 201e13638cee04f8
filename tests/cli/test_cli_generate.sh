#!/bin/bash
# CLI tests of `medify llm generate` on the fixtures' tiny Llama model: usage errors and
# exit codes, the --json shape, greedy runs reproducible, --stream prints the same text,
# --max-tokens, --stop, --chat, and a --url nobody listens on.
# Usage: test_cli_generate.sh MEDIFY_BINARY FIXTURES_DIR
# Needs the fixtures' tiny-llama-f32.gguf (skips with 77 when absent) and python3.
set -u
MEDIFY=$1
FIX=${2:-}
MODEL="$FIX/models/tiny-llama-f32.gguf"
if [ -z "$FIX" ] || [ ! -r "$MODEL" ]; then
  echo "SKIP: the fixture model $MODEL is not readable (pass the shared fixtures directory)"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is needed to read JSON"
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
  timeout 120 "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$desc: exit $got, want $want; stderr: $(head -c 300 "$TMP/err")"; fi
}
json() { # FILE EXPRESSION: prints the value of EXPRESSION over the parsed object d
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
same() { # GOT WANT DESCRIPTION
  if [ "$1" == "$2" ]; then ok; else bad "$3: got '$1', want '$2'"; fi
}

P="Medications: metformin 500 mg twice daily, lisinopril"
expect_exit 64 "no prompt" -- "$MEDIFY" llm generate --model "$MODEL"
expect_exit 64 "prompt and chat" -- "$MEDIFY" llm generate --model "$MODEL" --prompt a --chat b
expect_exit 64 "bad temperature" -- "$MEDIFY" llm generate --model "$MODEL" --prompt a --temperature hot
expect_exit 64 "bad top-p" -- "$MEDIFY" llm generate --model "$MODEL" --prompt a --top-p 2
expect_exit 64 "system without chat" -- "$MEDIFY" llm generate --model "$MODEL" --prompt a --system s
expect_exit 64 "unknown option" -- "$MEDIFY" llm generate --model "$MODEL" --prompt a --frobnicate 1
expect_exit 64 "empty stop" -- "$MEDIFY" llm generate --model "$MODEL" --prompt a --stop ""
expect_exit 0 "help" -- "$MEDIFY" llm generate --help
if "$MEDIFY" llm generate --model "$TMP/missing.gguf" --prompt a >/dev/null 2>"$TMP/err"; then
  bad "a missing model file succeeded"
else ok; fi

expect_exit 0 "greedy json" -- "$MEDIFY" llm generate --model "$MODEL" --prompt "$P" --temperature 0 --max-tokens 12 --json
cp "$TMP/out" "$TMP/g1.json"
same "$(json "$TMP/g1.json" 'd["finish_reason"]')" "length" "finish_reason with --max-tokens"
same "$(json "$TMP/g1.json" 'd["usage"]["completion_tokens"]')" "12" "completion_tokens"
same "$(json "$TMP/g1.json" 'd["usage"]["prompt_tokens"]')" "24" "prompt_tokens"
same "$(json "$TMP/g1.json" 'd["model"]')" "local:tiny-llama-f32.gguf" "model name"
expect_exit 0 "greedy again" -- "$MEDIFY" llm generate --model "$MODEL" --prompt "$P" --temperature 0 --max-tokens 12 --json
same "$(json "$TMP/out" 'd["text"]')" "$(json "$TMP/g1.json" 'd["text"]')" "greedy is reproducible"

# --stream --json: the pieces join to the final text
expect_exit 0 "stream json" -- "$MEDIFY" llm generate --model "$MODEL" --prompt "$P" --temperature 0 --max-tokens 12 --stream --json
joined=$(python3 -c '
import json,sys
lines=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pieces="".join(l["piece"] for l in lines if "piece" in l)
print(pieces == lines[-1]["text"] and len(lines) > 2)' "$TMP/out")
same "$joined" "True" "streamed pieces join to the text"

# --stop cuts before the stop string
text=$(json "$TMP/g1.json" 'd["text"]')
stop=$(python3 -c 'import sys; t=sys.argv[1]; a=[i for i in range(len(t)//3, len(t)-2) if t[i:i+2].isascii() and t[i:i+2].strip()]; print(t[a[0]:a[0]+2] if a else "")' "$text")
if [ -n "$stop" ]; then
  expect_exit 0 "stop" -- "$MEDIFY" llm generate --model "$MODEL" --prompt "$P" --temperature 0 --max-tokens 12 --stop "$stop" --json
  want=$(python3 -c 'import sys; t=sys.argv[1]; print(t[:t.index(sys.argv[2])])' "$text" "$stop")
  same "$(json "$TMP/out" 'd["text"]')" "$want" "text cut at the stop string"
  same "$(json "$TMP/out" 'd["finish_reason"]')" "stop" "finish_reason stop"
else
  bad "no ASCII stop string found in the greedy text"
fi

# chat through the model's Llama 3 template; sampled with a seed, reproducible
expect_exit 0 "chat" -- "$MEDIFY" llm generate --model "$MODEL" --chat "Fever for 3 days" --system "Be brief" --max-tokens 8 --seed 5 --json
cp "$TMP/out" "$TMP/c1.json"
expect_exit 0 "chat again" -- "$MEDIFY" llm generate --model "$MODEL" --chat "Fever for 3 days" --system "Be brief" --max-tokens 8 --seed 5 --json
same "$(json "$TMP/out" 'd["text"]')" "$(json "$TMP/c1.json" 'd["text"]')" "seeded sampling is reproducible"

# a context too small for the prompt: limit_exceeded (75)
expect_exit 75 "prompt beyond the context" -- "$MEDIFY" llm generate --model "$MODEL" --prompt "$P" --n-ctx 8

# remote: nobody listens on port 9 of loopback
expect_exit 74 "closed port" -- "$MEDIFY" llm generate --url http://127.0.0.1:9 --prompt a --json
grep -q '"code":"io_error"' "$TMP/out" && ok || bad "closed port: no io_error JSON"

echo "test_cli_generate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
