#!/bin/bash
# HTTP API integration test: the real `medify serve` on a loopback port chosen by the
# kernel, exercised with curl, JSON checked with jq.
#
#   every route: /healthz /readyz /metrics /v1/openapi.yaml /v1/conditions /v1/symptoms
#                /v1/parse /v1/triage /v1/diagnosis /v1/explain /v1/suggest
#   bad input:   malformed JSON, non-object, wrong types, unknown fields, bad values,
#                invalid UTF-8, empty body, unknown ids, oversized bodies (declared and
#                chunked), oversized headers, wrong content type, wrong method (405 +
#                Allow), unknown route; every error is {"error":{"code","message"}}
#   contract:    /v1/parse answers exactly what `medify assess --json` prints
#   metrics:     every line is a comment or `name{labels} value`; counters move
#   logs:        JSON lines with request ids, never the patient's words
#   shutdown:    SIGTERM while slow uploads are in flight: each gets a complete 200,
#                the server exits 0, and the port is closed afterwards
#
# Usage: test_http.sh MEDIFY_BINARY SOURCE_DIR. Exit 77 (skip) when the binary has no
# `serve` command or curl/jq are missing.
set -u
MEDIFY=$1
SRC=${2:-.}
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null; fi
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
if ! "$MEDIFY" serve --help >/dev/null 2>&1; then
  echo "SKIP: $MEDIFY has no 'serve' command yet"
  exit 77
fi

# ---- start ------------------------------------------------------------------------
start_server() { # extra flags...
  : >"$TMP/server.log"
  "$MEDIFY" serve --host 127.0.0.1 --port 0 --threads 2 --shutdown-grace-ms 20000 "$@" 2>"$TMP/server.log" &
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
  BASE="http://127.0.0.1:$PORT"
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ] && return 0
    sleep 0.1
  done
  echo "FAIL: /healthz never answered 200" >&2
  exit 1
}
start_server

# req METHOD PATH [BODY] [extra curl args...]: status in $STATUS, body in $TMP/body,
# headers in $TMP/headers. BODY "@file" reads a file; "-" sends none.
req() {
  local method=$1 path=$2 body=${3:--}
  shift 3 2>/dev/null || shift $#
  local args=(-s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X "$method" "$@")
  if [ "$body" != "-" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$body")
  fi
  STATUS=$(curl "${args[@]}" "$BASE$path")
}
post() { req POST "$1" "$2" "${@:3}"; }

expect_status() { # WANT DESCRIPTION
  if [ "$STATUS" = "$1" ]; then ok; else bad "$2: status $STATUS, want $1; body: $(head -c 300 "$TMP/body")"; fi
}
expect_jq() { # FILTER DESCRIPTION  (filter must yield true)
  if [ "$(jq -r "$1" "$TMP/body" 2>/dev/null)" = "true" ]; then ok; else bad "$2: '$1' false on $(head -c 300 "$TMP/body")"; fi
}
expect_header() { # REGEX DESCRIPTION
  if grep -qiE "$1" "$TMP/headers"; then ok; else bad "$2: no header matching '$1' in $(tr '\r\n' '  ' <"$TMP/headers")"; fi
}
# expect_error STATUS CODE MESSAGE_FRAGMENT DESCRIPTION
expect_error() {
  expect_status "$1" "$4"
  expect_jq "(.error | keys) == [\"code\",\"message\"] and .error.code == \"$2\" and (keys == [\"error\"])" "$4: error shape/code"
  if [ -n "$3" ]; then
    if jq -r .error.message "$TMP/body" 2>/dev/null | grep -qF -- "$3"; then ok; else bad "$4: message lacks '$3': $(head -c 300 "$TMP/body")"; fi
  fi
}

NOTICE_OK='(.notice | startswith("medify is not a diagnosis"))'

# ---- ops ---------------------------------------------------------------------------
req GET /healthz
expect_status 200 healthz
expect_jq '.status == "ok"' healthz
expect_header '^X-Request-Id: [0-9a-f]{8}-[0-9a-f]+' "generated request id"
expect_header '^Cache-Control: no-store' "no-store"
if grep -qi '^Access-Control-Allow-Origin' "$TMP/headers"; then bad "CORS must be off by default"; else ok; fi
req GET /healthz - -H 'X-Request-Id: client-id-42'
expect_header '^X-Request-Id: client-id-42' "request id echoed"
req GET /healthz - -H 'X-Request-Id: has spaces<script>'
expect_header '^X-Request-Id: [0-9a-f]{8}-' "unsafe request id replaced"
req GET /readyz
expect_status 200 readyz
expect_jq '.status == "ready" and .knowledge_base.conditions > 100 and .knowledge_base.observations > 100' readyz
STATUS=$(curl -s -I -o /dev/null -w '%{http_code}' "$BASE/healthz")
expect_status 200 "HEAD on a GET route"

req GET /v1/openapi.yaml
expect_status 200 openapi
expect_header '^Content-Type: application/yaml' "openapi content type"
if head -1 "$TMP/body" | grep -q '^openapi: 3\.1'; then ok; else bad "openapi document: $(head -c 100 "$TMP/body")"; fi
if cmp -s "$TMP/body" "$SRC/docs/openapi.yaml"; then ok; else bad "served openapi.yaml differs from docs/openapi.yaml"; fi

# ---- catalogue ---------------------------------------------------------------------
req GET /v1/conditions
expect_status 200 conditions
expect_jq '.count == (.conditions | length) and .count > 100' "conditions count"
expect_jq '[.conditions[] | (keys == ["icd10","id","name","severity","system","triage"])] | all' "condition fields"
expect_jq "$NOTICE_OK" "conditions notice"
SYSTEM=$(jq -r '.conditions[0].system' "$TMP/body")
req GET "/v1/conditions?system=$SYSTEM"
expect_jq "([.conditions[] | .system == \"$SYSTEM\"] | all) and .count > 0" "conditions ?system= filter"
req GET /v1/conditions?system=no-such-system
expect_jq '.count == 0 and .conditions == []' "unknown system: empty list"
req GET /v1/conditions?colour=red
expect_error 400 invalid_argument "'colour'" "unknown query argument"
req GET /v1/symptoms
expect_status 200 symptoms
expect_jq '.count == (.observations | length) and .count > 100' "symptoms count"
expect_jq '[.observations[] | (keys == ["id","kind","name","question"])] | all' "observation fields"
req GET /v1/symptoms?kind=risk_factor
expect_jq '.count > 0 and ([.observations[] | .kind == "risk_factor"] | all)' "symptoms ?kind= filter"
req GET /v1/symptoms?kind=colour
expect_error 400 invalid_argument "'kind'" "unknown kind"

# ---- clinical ----------------------------------------------------------------------
CHEST='{"text":"crushing chest pain for an hour, sweating","age":58,"sex":"male"}'
post /v1/triage "$CHEST" -H 'X-Request-Id: triage-1'
expect_status 200 triage
expect_jq '.triage.level == "emergency_ambulance" and .emergency == true and (.red_flags | length) > 0' "triage of crushing chest pain"
expect_jq "$NOTICE_OK" "triage notice"
expect_header '^Content-Type: application/json' "json content type"
post /v1/triage '{"text":"mild sore throat since yesterday, no fever","age":25}'
expect_jq '.emergency == false and .triage.level != "emergency_ambulance"' "benign sore throat"

# /v1/parse answers what `medify assess --json` prints for the same input.
post /v1/parse "$CHEST"
expect_status 200 parse
cp "$TMP/body" "$TMP/api.json"
echo "crushing chest pain for an hour, sweating" | "$MEDIFY" assess --json --age 58 --sex male >"$TMP/cli.json" 2>/dev/null
if [ "$(jq -S . "$TMP/api.json")" = "$(jq -S . "$TMP/cli.json")" ]; then ok; else
  bad "/v1/parse differs from medify assess --json: $(diff <(jq -S . "$TMP/cli.json") <(jq -S . "$TMP/api.json") | head -10)"
fi
expect_jq '(.observations | length) > 0 and .patient.age == 58 and .patient.sex == "male"' "parse observations and patient"

post /v1/diagnosis '{"evidence":[{"id":"cough","status":"present"},{"id":"fever","status":"present"},{"id":"chest_pain","status":"absent"}],"age":40}'
expect_status 200 "diagnosis from evidence"
expect_jq '(.conditions | length) > 0 and (has("next_question")) and (.should_stop | type) == "boolean"' "diagnosis fields"
expect_jq '[.observations[] | select(.id == "chest_pain") | .status] == ["absent"]' "evidence applied"
expect_jq "$NOTICE_OK" "diagnosis notice"
post /v1/diagnosis '{"text":"cough for two weeks","evidence":[{"id":"fever","status":"present"}]}'
expect_jq '[.observations[] | select(.id == "cough" or .id == "fever") | .status == "present"] | (length == 2 and all)' "text and evidence together"

post /v1/explain '{"condition":"migraine","text":"throbbing headache on one side, light hurts my eyes","age":30,"sex":"female"}'
expect_status 200 explain
expect_jq '.condition.id == "migraine" and (.probability | type) == "number" and (.supporting | length) > 0 and has("opposing") and has("unasked")' "explain fields"
expect_jq "$NOTICE_OK" "explain notice"
post /v1/explain '{"text":"headache"}'
expect_error 400 invalid_argument "'condition' is required" "explain without condition"
post /v1/explain '{"condition":"no_such_condition","text":"headache"}'
expect_error 400 invalid_argument "no_such_condition" "explain unknown condition"

post /v1/suggest '{"evidence":[{"id":"cough","status":"present"},{"id":"fever","status":"present"}],"max_results":4}'
expect_status 200 suggest
expect_jq '(.suggestions | length) > 0 and (.suggestions | length) <= 4' "suggest count"
expect_jq '[.suggestions[] | .id != "cough" and .id != "fever"] | all' "suggest skips what is known"
expect_jq '[.suggestions[].information_gain] as $g | $g == ($g | sort | reverse)' "suggest sorted by gain"
expect_jq '[.suggestions[] | (keys == ["id","information_gain","kind","name","question"])] | all' "suggestion fields"
expect_jq "$NOTICE_OK and (.emergency | type) == \"boolean\"" "suggest notice and emergency"
post /v1/suggest '{"text":"cough","max_results":0}'
expect_error 400 invalid_argument "'max_results'" "max_results out of range"
post /v1/suggest '{"text":"cough","max_results":2.5}'
expect_error 400 invalid_argument "'max_results'" "max_results fractional"

# ---- bad input ---------------------------------------------------------------------
post /v1/triage '{"text": "chest pain"'
expect_error 400 parse_error "malformed JSON" "truncated JSON"
post /v1/triage 'text=chest pain'
expect_error 400 parse_error "" "not JSON at all"
post /v1/triage '{"text":"a","text":"b"}'
expect_error 400 parse_error "" "duplicate key"
post /v1/triage '["chest pain"]'
expect_error 400 invalid_argument "JSON object" "array body"
post /v1/triage '{"text":5}'
expect_error 400 invalid_argument "'text' must be a string" "text wrong type"
post /v1/triage '{"text":"cough","age":"forty"}'
expect_error 400 invalid_argument "'age' must be a number" "age wrong type"
post /v1/triage '{"text":"cough","age":200}'
expect_error 400 invalid_argument "'age'" "age out of range"
post /v1/triage '{"text":"cough","sex":1}'
expect_error 400 invalid_argument "'sex' must be a string" "sex wrong type"
post /v1/triage '{"text":"cough","sex":"other"}'
expect_error 400 invalid_argument "'sex'" "sex bad value"
post /v1/triage '{"evidence":{"id":"cough"}}'
expect_error 400 invalid_argument "'evidence' must be an array" "evidence wrong type"
post /v1/triage '{"evidence":["cough"]}'
expect_error 400 invalid_argument "'evidence[0]' must be an object" "evidence item wrong type"
post /v1/triage '{"evidence":[{"id":"cough","status":true}]}'
expect_error 400 invalid_argument "'evidence[0].status' must be a string" "evidence status wrong type"
post /v1/triage '{"evidence":[{"id":"cough","status":"maybe"}]}'
expect_error 400 invalid_argument "'evidence[0].status'" "evidence status bad value"
post /v1/triage '{"evidence":[{"id":"cough"}]}'
expect_error 400 invalid_argument "'evidence[0].status' is required" "evidence status missing"
post /v1/triage '{"evidence":[{"id":"cough","status":"present"},{"id":"unicorn_horn","status":"present"}]}'
expect_error 400 invalid_argument "unicorn_horn" "unknown observation id"
post /v1/triage '{"text":"cough","symptoms":["x"],"urgent":true}'
expect_error 400 invalid_argument "'symptoms', 'urgent'" "unknown fields"
post /v1/triage '{"evidence":[{"id":"cough","status":"present","weight":2}]}'
expect_error 400 invalid_argument "'evidence[0].weight'" "unknown field inside evidence"
post /v1/triage '{"text":"cough","condition":"migraine"}'
expect_error 400 invalid_argument "'condition'" "field of another endpoint"
post /v1/triage '{}'
expect_error 400 invalid_argument "text" "neither text nor evidence"
post /v1/triage '{"text":"   "}'
expect_error 400 empty_input "'text'" "blank text"
req POST /v1/triage - -H 'Content-Type: application/json'
expect_error 400 empty_input "" "empty body"
printf '{"text":"chest pain \xff\xfe"}' >"$TMP/bad-utf8.json"
post /v1/triage "@$TMP/bad-utf8.json"
expect_error 400 invalid_utf8 "UTF-8" "invalid UTF-8"
printf '{"text":"caf\xc3"}' >"$TMP/cut-utf8.json"
post /v1/triage "@$TMP/cut-utf8.json"
expect_error 400 invalid_utf8 "" "truncated UTF-8 sequence"
post /v1/triage '{"text":"\ud800"}'
expect_error 400 parse_error "" "lone surrogate escape"
req POST /v1/triage '{"text":"cough"}' -H 'Content-Type: text/plain'
expect_error 415 unsupported_media_type "Content-Type" "wrong content type"
{ printf '{"text":"'; head -c 70000 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$TMP/big.json"
post /v1/triage "@$TMP/big.json"
expect_error 413 too_large "limit" "oversized body (Content-Length)"
req POST /v1/triage "@$TMP/big.json" -H 'Transfer-Encoding: chunked'
expect_error 413 too_large "limit" "oversized body (chunked)"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Padding: $(head -c 40000 /dev/zero | tr '\0' 'p')" "$BASE/healthz")
expect_status 431 "oversized headers"

req GET /v1/triage
expect_error 405 method_not_allowed "POST" "GET on a POST route"
expect_header '^Allow: POST' "Allow header on 405"
req POST /healthz '{}'
expect_error 405 method_not_allowed "GET" "POST on a GET route"
expect_header '^Allow: GET' "Allow header on 405 (GET route)"
req DELETE /v1/conditions
expect_error 405 method_not_allowed "" "DELETE"
req GET /v1/nothing-here
expect_error 404 not_found "" "unknown route"
req GET /v1/triage/extra
expect_error 404 not_found "" "unknown sub-path"

# The server still answers after all that.
post /v1/triage "$CHEST"
expect_status 200 "triage after the bad-input table"

# ---- metrics -----------------------------------------------------------------------
req GET /metrics
expect_status 200 metrics
expect_header '^Content-Type: text/plain; version=0\.0\.4' "metrics content type"
BADLINES=$(grep -vE '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$' "$TMP/body" |
  grep -vE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$')
if [ -z "$BADLINES" ]; then ok; else bad "metrics lines not in Prometheus text format: $(echo "$BADLINES" | head -3)"; fi
metric() { grep -F "$1" "$TMP/body" | head -1 | awk '{print $NF}'; }
[ "$(metric 'medify_http_requests_total{route="/v1/triage",method="POST",status="200"}')" -ge 3 ] 2>/dev/null && ok || bad "triage 200 count"
[ "$(metric 'medify_http_requests_total{route="/v1/triage",method="POST",status="400"}')" -ge 15 ] 2>/dev/null && ok || bad "triage 400 count"
[ "$(metric 'medify_http_requests_total{route="unmatched",method="any",status="404"}')" -ge 2 ] 2>/dev/null && ok || bad "404 count"
[ "$(metric 'medify_emergencies_total{red_flag="cardiac_chest_pain"}')" -ge 2 ] 2>/dev/null && ok || bad "emergency counter by red flag"
[ "$(metric 'medify_triage_total{level="emergency_ambulance"}')" -ge 2 ] 2>/dev/null && ok || bad "triage level counter"
INF=$(metric 'medify_http_request_duration_seconds_bucket{route="/v1/triage",method="POST",status="200",le="+Inf"}')
CNT=$(metric 'medify_http_request_duration_seconds_count{route="/v1/triage",method="POST",status="200"}')
[ -n "$INF" ] && [ "$INF" = "$CNT" ] && ok || bad "histogram +Inf bucket ($INF) equals count ($CNT)"
if grep -q 'HELP medify_http_request_duration_seconds' "$TMP/body" && grep -q 'TYPE medify_http_request_duration_seconds histogram' "$TMP/body"; then ok; else bad "histogram TYPE line"; fi

# ---- logs --------------------------------------------------------------------------
post /v1/triage '{"text":"my knee hurts since the purple giraffe incident"}' -H 'X-Request-Id: giraffe-1'
if grep -q 'giraffe incident\|purple' "$TMP/server.log"; then bad "patient text reached the log"; else ok; fi
if grep '"request_id":"giraffe-1"' "$TMP/server.log" | grep -q '"route":"/v1/triage".*"status":200'; then ok; else bad "access log line for giraffe-1"; fi
if jq -e . "$TMP/server.log" >/dev/null 2>&1; then ok; else bad "server log is not JSON lines"; fi
if grep '"msg":"request"' "$TMP/server.log" | head -1 | jq -e 'has("method") and has("route") and has("status") and has("duration_ms") and has("request_id")' >/dev/null; then ok; else bad "access log fields"; fi

# ---- graceful shutdown under load ---------------------------------------------------
# Slow uploads (~3 s each at 300 bytes/s) are in flight when SIGTERM arrives; each must
# get a complete 200 with the assessment, and the server must exit 0.
{ printf '{"text":"crushing chest pain and sweating'; head -c 800 /dev/zero | tr '\0' ' '; printf '","age":60}'; } >"$TMP/slow.json"
N_SLOW=12
for i in $(seq 1 $N_SLOW); do
  curl -s --max-time 30 --limit-rate 300 -o "$TMP/slow.$i.body" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "@$TMP/slow.json" "$BASE/v1/triage" >"$TMP/slow.$i.status" &
done
# plus fast requests that keep coming until the port closes
(for i in $(seq 1 400); do curl -s -o /dev/null -w '%{http_code}\n' "$BASE/healthz" || break; done) >"$TMP/fast.status" 2>/dev/null &
FAST_PID=$!
for _ in $(seq 1 50); do # wait until every slow request is in the server
  [ "$(curl -s "$BASE/metrics" | grep '^medify_http_requests_in_flight' | awk '{print $2}')" -ge $((N_SLOW + 1)) ] 2>/dev/null && break
  sleep 0.05
done
sleep 0.3
kill -TERM "$SERVER_PID"
T0=$(date +%s)
wait "$SERVER_PID"
RC=$?
T1=$(date +%s)
SERVER_PID=
wait
if [ "$RC" = 0 ]; then ok; else bad "server exit code after SIGTERM: $RC (want 0); log: $(tail -3 "$TMP/server.log")"; fi
[ $((T1 - T0)) -le 20 ] && ok || bad "graceful stop took $((T1 - T0)) s"
n_complete=0
for i in $(seq 1 $N_SLOW); do
  if [ "$(cat "$TMP/slow.$i.status")" = 200 ] && jq -e '.triage.level and .notice' "$TMP/slow.$i.body" >/dev/null 2>&1; then
    n_complete=$((n_complete + 1))
  else
    bad "in-flight request $i: status '$(cat "$TMP/slow.$i.status")', body $(head -c 200 "$TMP/slow.$i.body")"
  fi
done
[ "$n_complete" = $N_SLOW ] && ok
# fast requests: every one that got an answer got a complete 200 (the rest were refused
# at connect, 000, after the listener closed)
if grep -qvE '^(200|000)$' "$TMP/fast.status"; then bad "fast requests during shutdown: $(sort "$TMP/fast.status" | uniq -c | tr '\n' ' ')"; else ok; fi
if grep -q '"msg":"stopped".*"cut_off":0' "$TMP/server.log"; then ok; else bad "stop log line: $(grep stopped "$TMP/server.log")"; fi
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/healthz")
[ "$STATUS" = 000 ] && ok || bad "port still answering after exit ($STATUS)"
kill "$FAST_PID" 2>/dev/null

# ---- CORS when configured ------------------------------------------------------------
start_server --cors-origin https://app.example
req GET /healthz
expect_header '^Access-Control-Allow-Origin: https://app.example' "CORS origin when configured"
req OPTIONS /v1/triage - -H 'Origin: https://app.example' -H 'Access-Control-Request-Method: POST'
expect_status 204 "CORS preflight"
expect_header '^Access-Control-Allow-Methods: POST' "preflight methods"
kill -INT "$SERVER_PID"
wait "$SERVER_PID"
RC=$?
SERVER_PID=
[ "$RC" = 0 ] && ok || bad "exit code after SIGINT: $RC"

echo "http: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
