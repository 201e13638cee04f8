#!/bin/bash
# Model server integration test: the real `medify model serve` on a loopback port
# chosen by the kernel, over the tiny random-weight fixture models, driven with curl,
# JSON checked with jq. The model is ../shared/fixtures/models/tiny-llama-f32.gguf
# when present, else one written by tools/gen_tiny_llama.c (the third argument).
#
#   answers:     chat and text completions (greedy, so deterministic), streamed and
#                whole: the streamed pieces concatenate to the whole answer, chunks
#                have the OpenAI shapes, the stream ends with [DONE]; usage adds up;
#                /v1/models; /v1/embeddings (string, array, base64), and 404 without
#                an embedding model; medify's remote LLM backend (`llm generate --url`)
#                gets the same text from the server as the model gives in-process
#   bad input:   malformed JSON, wrong types, n=2, bad ranges, oversized body (413),
#                wrong method (405), unknown route (404), wrong content type (415);
#                fields OpenAI clients add ("user", "n":1, ...) are accepted
#   load:        concurrent requests all answered (and identical); a full queue is
#                503 with Retry-After; a client leaving mid-stream cancels its
#                generation and the server carries on
#   ops:         /healthz /readyz /metrics (request counts, TTFT, tokens, queue depth);
#                logs never contain the prompt; SIGTERM during a stream: the stream
#                completes, exit 0
#
# Usage: test_model_serve.sh MEDIFY_BINARY SOURCE_DIR [MD_GEN_TINY_LLAMA]. Exit 77
# (skip) when curl or jq is missing, there is neither the fixture model nor the
# generator, or the binary has no `model serve` command. Embeddings with a model are
# checked when ../shared/fixtures/models/tiny-bert-f32.gguf exists.
set -u
MEDIFY=$1
SRC=${2:-.}
GEN=${3:-}
FIXTURES=${MEDIFY_FIXTURES:-$SRC/../shared/fixtures}
LLAMA=$FIXTURES/models/tiny-llama-f32.gguf
BERT=$FIXTURES/models/tiny-bert-f32.gguf
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null; fi
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*" >&2
}

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/debian-packages.txt)"; exit 77; }
done
if [ ! -f "$LLAMA" ]; then
  [ -n "$GEN" ] && [ -x "$GEN" ] || { echo "SKIP: neither $LLAMA nor the model generator is available"; exit 77; }
  LLAMA=$TMP/medify-tiny-llama.gguf
  "$GEN" "$LLAMA" || { echo "FAIL: $GEN could not write a model" >&2; exit 1; }
  echo "note: serving the generated $LLAMA"
fi
MODEL_ID=$(basename "$LLAMA")
if ! "$MEDIFY" model serve --help >/dev/null 2>&1; then
  echo "SKIP: $MEDIFY has no 'model serve' command"
  exit 77
fi

start_server() { # extra flags...
  : >"$TMP/server.log"
  "$MEDIFY" model serve --model "$LLAMA" --host 127.0.0.1 --port 0 --threads 1 --max-body-bytes 65536 \
    --shutdown-grace-ms 30000 "$@" 2>"$TMP/server.log" &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 1 300); do
    PORT=$(grep -m1 '"msg":"listening"' "$TMP/server.log" | grep -o '"port":[0-9]*' | cut -d: -f2)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$PORT" ]; then
    echo "FAIL: the model server did not start; log:" >&2
    cat "$TMP/server.log" >&2
    exit 1
  fi
  BASE="http://127.0.0.1:$PORT"
}

stop_server() { # expects exit 0
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=
  if [ "$rc" = 0 ]; then ok; else bad "server exit code after SIGTERM: $rc (want 0); log: $(tail -3 "$TMP/server.log")"; fi
}

# req METHOD PATH [BODY] [curl args...]: status in $STATUS, body in $TMP/body, headers in $TMP/headers.
req() {
  local method=$1 path=$2 body=${3:--}
  shift 3 2>/dev/null || shift $#
  local args=(-s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" "$@")
  if [ "$body" != "-" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  STATUS=$(curl "${args[@]}" "$BASE$path")
}
post() { req POST "$1" "$2" "${@:3}"; }
expect_status() {
  if [ "$STATUS" = "$1" ]; then ok; else bad "$2: status $STATUS, want $1; body: $(head -c 300 "$TMP/body")"; fi
}
expect_jq() {
  if [ "$(jq -r "$1" "$TMP/body" 2>/dev/null)" = "true" ]; then ok; else bad "$2: '$1' false on $(head -c 300 "$TMP/body")"; fi
}
expect_header() {
  if grep -qiE "$1" "$TMP/headers"; then ok; else bad "$2: no header matching '$1' in $(tr '\r\n' '  ' <"$TMP/headers")"; fi
}
expect_error() { # STATUS CODE MESSAGE_FRAGMENT DESCRIPTION
  expect_status "$1" "$4"
  expect_jq ".error.code == \"$2\" and (.error.message | type) == \"string\" and (.error.type | type) == \"string\"" "$4: error shape/code"
  if [ -n "$3" ]; then
    if jq -r .error.message "$TMP/body" 2>/dev/null | grep -qF -- "$3"; then ok; else bad "$4: message lacks '$3': $(head -c 300 "$TMP/body")"; fi
  fi
}
# sse FILE: the concatenated text of the events' choices (chat delta.content or text)
sse_text() { grep '^data: {' "$1" | sed 's/^data: //' | jq -j '.choices[0]? | (.delta.content // .text // "")'; }

CHAT='{"model":"x","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"zebrafinch symptoms?"}],"temperature":0,"max_tokens":24,"seed":7}'
COMPL='{"model":"x","prompt":"The zebrafinch has","temperature":0,"max_tokens":24}'

# =============================== server 1: no embedding model, a short queue ========
start_server --max-queue 1 --request-timeout-ms 1000

req GET /healthz
expect_status 200 healthz
expect_header '^X-Request-Id: [0-9a-f]{8}-[0-9a-f]+' "generated request id"
req GET /readyz
expect_status 200 readyz
expect_jq '.status == "ready" and .model == "'"$MODEL_ID"'" and .embeddings == false' readyz
req GET /v1/models
expect_status 200 models
expect_jq '.object == "list" and (.data | length) == 1 and .data[0].id == "'"$MODEL_ID"'" and .data[0].object == "model"' models
post /v1/embeddings '{"input":"hello"}'
expect_error 404 not_found "--embed-model" "embeddings without an embedding model"

# ---- a body trickling in past --request-timeout-ms: the connection is closed ----------
printf '{"messages":[{"role":"user","content":"%s"}]}' "$(head -c 3000 /dev/zero | tr '\0' a)" >"$TMP/slow.json"
t0=$(date +%s%N)
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 500 -H 'Content-Type: application/json' \
  --data-binary "@$TMP/slow.json" "$BASE/v1/chat/completions")
slow_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$STATUS" = 000 ] && [ "$slow_ms" -lt 5500 ] && ok || bad "slow upload: status $STATUS after $slow_ms ms (want a closed connection)"
grep -q '"reason":"body too slow"' "$TMP/server.log" && ok || bad "no 'body too slow' log line"
req GET /healthz
expect_status 200 "alive after a slow upload"

# ---- queue overflow: max-queue 1 → one running, one waiting, the rest 503 -------------
LONG='{"messages":[{"role":"user","content":"go on"}],"temperature":0,"max_tokens":200,"seed":1}'
for i in $(seq 1 8); do
  curl -s -o "$TMP/q$i.body" -D "$TMP/q$i.headers" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$LONG" "$BASE/v1/chat/completions" >"$TMP/q$i.status" &
done
wait $(jobs -p | grep -v "^$SERVER_PID$") 2>/dev/null
n200=0 n503=0 nother=0
for i in $(seq 1 8); do
  case $(cat "$TMP/q$i.status") in
    200) n200=$((n200 + 1)) ;;
    503)
      n503=$((n503 + 1))
      grep -qi '^Retry-After: [0-9]' "$TMP/q$i.headers" && ok || bad "503 without Retry-After"
      [ "$(jq -r .error.code "$TMP/q$i.body")" = unavailable ] && ok || bad "503 body: $(cat "$TMP/q$i.body")"
      ;;
    *) nother=$((nother + 1)) ;;
  esac
done
if [ "$n503" -ge 1 ] && [ "$n200" -ge 2 ] && [ "$nother" = 0 ]; then ok; else
  bad "queue overflow: $n200 answered, $n503 refused with 503, $nother other (want >= 2, >= 1, 0)"; fi
stop_server

# =============================== server 2: with the embedding model =================
EMBED_ARGS=()
[ -f "$BERT" ] && EMBED_ARGS=(--embed-model "$BERT")
start_server --max-queue 8 "${EMBED_ARGS[@]}"

# ---- chat, whole ------------------------------------------------------------------
post /v1/chat/completions "$CHAT" -H 'X-Request-Id: chat-1'
expect_status 200 chat
expect_header '^X-Request-Id: chat-1' "request id echoed"
expect_jq '.object == "chat.completion" and .id == "chatcmpl-chat-1" and .model == "'"$MODEL_ID"'" and (.created | type) == "number"' "chat envelope"
expect_jq '(.choices | length) == 1 and .choices[0].index == 0 and .choices[0].message.role == "assistant" and (.choices[0].message.content | type) == "string"' "chat choice"
expect_jq '(.choices[0].finish_reason == "stop" or .choices[0].finish_reason == "length")' "chat finish_reason"
expect_jq '.usage.prompt_tokens > 0 and .usage.completion_tokens >= 1 and .usage.completion_tokens <= 24 and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' "chat usage"
CHAT_TEXT=$(jq -j '.choices[0].message.content' "$TMP/body")
CHAT_FINISH=$(jq -r '.choices[0].finish_reason' "$TMP/body")
CHAT_TOKENS=$(jq -r '.usage.completion_tokens' "$TMP/body")
[ -n "$CHAT_TEXT" ] && ok || bad "chat answer is empty"
post /v1/chat/completions "$CHAT"
[ "$(jq -j '.choices[0].message.content' "$TMP/body")" = "$CHAT_TEXT" ] && ok || bad "temperature 0 is not deterministic"

# OpenAI clients' extra fields are accepted; content as text parts; developer role
post /v1/chat/completions '{"model":"gpt-4o","messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"hi"}]}],"user":"u-1","n":1,"logit_bias":{},"metadata":{"a":"b"},"stream":false,"max_completion_tokens":4,"stop":["\n\n"],"frequency_penalty":0.5,"presence_penalty":-0.5,"top_p":0.9}'
expect_status 200 "extra OpenAI fields accepted"
expect_jq '.usage.completion_tokens <= 4' "max_completion_tokens honoured"

# ---- chat, streamed: the same text in pieces ------------------------------------------
STREAM_REQ=$(jq -c '.stream = true | .stream_options = {include_usage: true}' <<<"$CHAT")
curl -s -N -D "$TMP/sse.headers" -H 'Content-Type: application/json' --data-binary "$STREAM_REQ" \
  "$BASE/v1/chat/completions" >"$TMP/sse"
grep -qi '^Content-Type: text/event-stream' "$TMP/sse.headers" && ok || bad "stream content type: $(cat "$TMP/sse.headers")"
grep -qi '^X-Request-Id: ' "$TMP/sse.headers" && ok || bad "stream without X-Request-Id"
[ "$(grep '^data: ' "$TMP/sse" | tail -1)" = "data: [DONE]" ] && ok || bad "stream does not end with [DONE]: $(tail -c 200 "$TMP/sse")"
[ "$(sse_text "$TMP/sse")" = "$CHAT_TEXT" ] && ok || bad "streamed chat '$(sse_text "$TMP/sse")' != whole '$CHAT_TEXT'"
FIRST=$(grep -m1 '^data: {' "$TMP/sse" | sed 's/^data: //')
[ "$(jq -r '.object == "chat.completion.chunk" and .choices[0].delta.role == "assistant"' <<<"$FIRST")" = true ] && ok || bad "first chunk: $FIRST"
grep '^data: {' "$TMP/sse" | sed 's/^data: //' | jq -s -e 'all(.object == "chat.completion.chunk")' >/dev/null && ok || bad "chunk objects"
grep '^data: {' "$TMP/sse" | sed 's/^data: //' | jq -s -e --arg f "$CHAT_FINISH" '[.[] | select((.choices | length) > 0) | .choices[0].finish_reason | select(. != null)] == [$f]' >/dev/null && ok || bad "stream finish_reason (want one '$CHAT_FINISH')"
grep '^data: {' "$TMP/sse" | sed 's/^data: //' | jq -s -e --argjson n "$CHAT_TOKENS" '.[-1].choices == [] and .[-1].usage.completion_tokens == $n' >/dev/null && ok || bad "include_usage chunk"

# ---- completions, whole and streamed --------------------------------------------------
post /v1/completions "$COMPL"
expect_status 200 completions
expect_jq '.object == "text_completion" and (.id | startswith("cmpl-")) and (.choices[0].text | type) == "string" and .choices[0].index == 0 and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' "completion shape"
COMPL_TEXT=$(jq -j '.choices[0].text' "$TMP/body")
curl -s -N -H 'Content-Type: application/json' --data-binary "$(jq -c '.stream = true' <<<"$COMPL")" \
  "$BASE/v1/completions" >"$TMP/sse2"
[ "$(sse_text "$TMP/sse2")" = "$COMPL_TEXT" ] && ok || bad "streamed completion differs from the whole one"
[ "$(grep '^data: ' "$TMP/sse2" | tail -1)" = "data: [DONE]" ] && ok || bad "completion stream does not end with [DONE]"
grep '^data: {' "$TMP/sse2" | sed 's/^data: //' | jq -s -e 'all(.object == "text_completion")' >/dev/null && ok || bad "completion chunk objects"
post /v1/completions '{"prompt":["one string in an array"],"max_tokens":2}'
expect_status 200 "prompt as an array of one string"

# ---- medify's own remote backend against this server: the same text as in-process ------
if "$MEDIFY" llm generate --help >/dev/null 2>&1; then
  GEN_ARGS=(--chat "zebrafinch symptoms?" --max-tokens 12 --temperature 0 --json)
  LOCAL=$("$MEDIFY" llm generate --model "$LLAMA" "${GEN_ARGS[@]}" 2>/dev/null | jq -j .text)
  REMOTE=$("$MEDIFY" llm generate --url "$BASE" "${GEN_ARGS[@]}" 2>/dev/null | jq -j .text)
  REMOTE_STREAM=$("$MEDIFY" llm generate --url "$BASE" --stream "${GEN_ARGS[@]}" 2>/dev/null | tail -1 | jq -j .text)
  [ -n "$LOCAL" ] && [ "$REMOTE" = "$LOCAL" ] && ok || bad "remote backend answer '$REMOTE' != in-process '$LOCAL'"
  [ "$REMOTE_STREAM" = "$LOCAL" ] && ok || bad "remote backend streamed answer '$REMOTE_STREAM' != in-process '$LOCAL'"
else
  echo "note: this medify has no 'llm generate'; the remote-backend round trip is not checked"
fi

# ---- embeddings -------------------------------------------------------------------------
if [ -f "$BERT" ]; then
  post /v1/embeddings '{"model":"e","input":"chest pain"}'
  expect_status 200 embeddings
  expect_jq '.object == "list" and (.data | length) == 1 and .data[0].object == "embedding" and .data[0].index == 0 and (.data[0].embedding | length) > 0 and .usage.prompt_tokens > 0' "embedding shape"
  expect_jq '([.data[0].embedding[] | . * .] | add | sqrt) as $n | ($n > 0.999 and $n < 1.001)' "embedding is unit length"
  DIM=$(jq '.data[0].embedding | length' "$TMP/body")
  ONE=$(jq -c '.data[0].embedding' "$TMP/body")
  post /v1/embeddings '{"input":["chest pain","headache"]}'
  expect_jq "(.data | length) == 2 and .data[1].index == 1 and (.data[0].embedding == $ONE) and (.data[1].embedding != $ONE)" "embedding batch"
  post /v1/embeddings '{"input":"chest pain","encoding_format":"base64"}'
  expect_status 200 "embeddings base64"
  B64_BYTES=$(jq -r '.data[0].embedding' "$TMP/body" | base64 -d | wc -c)
  [ "$B64_BYTES" = $((DIM * 4)) ] && ok || bad "base64 embedding is $B64_BYTES bytes, want $((DIM * 4))"
  post /v1/embeddings '{"input":""}'
  expect_error 400 invalid_argument "input" "empty embedding input"
  post /v1/embeddings '{"input":[1,2,3]}'
  expect_error 400 invalid_argument "token arrays" "token-array embedding input"
  req GET /v1/models
  expect_jq '(.data | length) == 2 and .data[1].id == "tiny-bert-f32.gguf"' "models lists the embedding model"
else
  echo "note: $BERT absent; embeddings with a model not checked"
fi

# ---- bad input ------------------------------------------------------------------------
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}'
expect_error 400 parse_error "malformed JSON" "truncated JSON"
post /v1/chat/completions '[1,2]'
expect_error 400 invalid_argument "JSON object" "non-object body"
post /v1/chat/completions '{"messages":"hi"}'
expect_error 400 invalid_argument "'messages'" "messages not an array"
post /v1/chat/completions '{"messages":[]}'
expect_error 400 invalid_argument "'messages'" "empty messages"
post /v1/chat/completions '{"messages":[{"role":"tool","content":"x"}]}'
expect_error 400 invalid_argument "role" "unsupported role"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"n":2}'
expect_error 400 invalid_argument "n must be 1" "n=2"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}'
expect_error 400 invalid_argument "'temperature'" "temperature of the wrong type"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"temperature":3}'
expect_error 400 invalid_argument "'temperature'" "temperature out of range"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}'
expect_error 400 invalid_argument "'max_tokens'" "max_tokens 0"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e","f","g","h","i"]}'
expect_error 400 invalid_argument "'stop'" "too many stop strings"
post /v1/chat/completions '{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}'
expect_error 400 invalid_argument "'stream'" "stream not a boolean"
post /v1/completions '{"max_tokens":3}'
expect_error 400 invalid_argument "'prompt'" "missing prompt"
post /v1/completions '{"prompt":"a","echo":true}'
expect_error 400 invalid_argument "echo" "echo refused"
printf '{"messages":[{"role":"user","content":"%s"}]}' "$(head -c 70000 /dev/zero | tr '\0' a)" >"$TMP/big.json"
post /v1/chat/completions "@$TMP/big.json"
expect_error 413 too_large "limit" "oversized body"
req GET /v1/chat/completions
expect_error 405 method_not_allowed "POST" "GET on a POST route"
expect_header '^Allow: POST' "Allow header"
req GET /v1/nothing
expect_error 404 not_found "" "unknown route"
STATUS=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary "$CHAT" "$BASE/v1/chat/completions")
expect_error 415 unsupported_media_type "" "text/plain body"
req GET /healthz
expect_status 200 "alive after the bad inputs"

# ---- concurrency: all answered, in FIFO order of the model, identically -------------------
for i in $(seq 1 5); do
  curl -s -o "$TMP/c$i.body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$CHAT" \
    "$BASE/v1/chat/completions" >"$TMP/c$i.status" &
done
wait $(jobs -p | grep -v "^$SERVER_PID$") 2>/dev/null
for i in $(seq 1 5); do
  [ "$(cat "$TMP/c$i.status")" = 200 ] && [ "$(jq -j '.choices[0].message.content' "$TMP/c$i.body")" = "$CHAT_TEXT" ] &&
    ok || bad "concurrent request $i: $(cat "$TMP/c$i.status") $(head -c 200 "$TMP/c$i.body")"
done

# ---- a client leaving mid-stream cancels its generation ---------------------------------
cancelled_before=$(curl -s "$BASE/metrics" | grep '^medify_model_generations_total{finish_reason="cancelled"}' | awk '{print $2}')
LONG_STREAM='{"messages":[{"role":"user","content":"go on"}],"temperature":0,"max_tokens":200,"seed":1,"stream":true}'
t0=$(date +%s%N)
post /v1/chat/completions "$(jq -c '.stream = false' <<<"$LONG_STREAM")"
long_ms=$((($(date +%s%N) - t0) / 1000000))
long_tokens=$(jq -r .usage.completion_tokens "$TMP/body")
# head exits after the first bytes; curl dies on the broken pipe and closes the socket
curl -s -N -H 'Content-Type: application/json' --data-binary "$LONG_STREAM" "$BASE/v1/chat/completions" | head -c 120 >/dev/null
for _ in $(seq 1 100); do
  active=$(curl -s "$BASE/metrics" | grep '^medify_model_streams_active ' | awk '{print $2}')
  [ "$active" = 0 ] && break
  sleep 0.1
done
[ "$active" = 0 ] && ok || bad "the abandoned stream's producer never ended"
cancelled_after=$(curl -s "$BASE/metrics" | grep '^medify_model_generations_total{finish_reason="cancelled"}' | awk '{print $2}')
if [ "$long_ms" -gt 300 ] && [ "$long_tokens" -gt 50 ]; then
  [ "$cancelled_after" -gt "$cancelled_before" ] && ok || bad "client left mid-stream but no generation was cancelled ($cancelled_before -> $cancelled_after)"
else
  echo "note: the whole generation took ${long_ms} ms for $long_tokens tokens: too quick to require a cancellation"
fi
post /v1/chat/completions "$CHAT"
[ "$STATUS" = 200 ] && [ "$(jq -j '.choices[0].message.content' "$TMP/body")" = "$CHAT_TEXT" ] && ok || bad "server wedged after a client left mid-stream"

# ---- metrics ----------------------------------------------------------------------------
req GET /metrics
expect_status 200 metrics
expect_header '^Content-Type: text/plain; version=0.0.4' "metrics content type"
grep -v '^#' "$TMP/body" | grep -vqE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [0-9.e+-]+$' && bad "malformed metrics line: $(grep -v '^#' "$TMP/body" | grep -vE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [0-9.e+-]+$' | head -1)" || ok
for pat in 'medify_model_http_requests_total\{route="/v1/chat/completions",method="POST",status="200"\} [1-9]' \
  'medify_model_http_requests_total\{route="/v1/chat/completions",method="POST",status="400"\} [1-9]' \
  'medify_model_http_request_duration_seconds_bucket\{route="/v1/completions",method="POST",status="200",le="\+Inf"\} [1-9]' \
  'medify_model_time_to_first_token_seconds_count [1-9]' 'medify_model_completion_tokens_total [1-9]' \
  'medify_model_prompt_tokens_total [1-9]' '^medify_model_queue_depth 0$' '^medify_model_requests_in_flight [1-9]'; do
  grep -qE "$pat" "$TMP/body" && ok || bad "metrics lack /$pat/"
done

# ---- logs: JSON lines, never the prompt ---------------------------------------------------
grep -q '"msg":"request"' "$TMP/server.log" && ok || bad "no access log lines"
grep -q zebrafinch "$TMP/server.log" && bad "the prompt appears in the logs" || ok
grep -v '^{' "$TMP/server.log" | grep -q . && bad "non-JSON log line: $(grep -v '^{' "$TMP/server.log" | head -1)" || ok

# ---- SIGTERM while a stream runs: it completes, exit 0 ---------------------------------------
curl -s -N -H 'Content-Type: application/json' --data-binary "$LONG_STREAM" "$BASE/v1/chat/completions" >"$TMP/sse3" &
CURL_PID=$!
for _ in $(seq 1 100); do # SIGTERM once the stream has begun
  [ -s "$TMP/sse3" ] && break
  sleep 0.1
done
stop_server
wait "$CURL_PID"
[ "$(grep '^data: ' "$TMP/sse3" | tail -1)" = "data: [DONE]" ] && ok || bad "stream cut by SIGTERM: $(tail -c 200 "$TMP/sse3")"
curl -s -o /dev/null --max-time 2 "$BASE/healthz" && bad "port still open after stop" || ok

echo "model serve: $pass passed, $fail failed"
[ "$fail" = 0 ]
