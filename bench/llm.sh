#!/bin/sh
# bench/llm.sh: speed of medify's Llama decoder on random-weight models of real shapes.
#
#   bench/llm.sh DIR [BUILD_DIR]
#
# Writes the bench models into DIR (md_gen_bench_model; existing files are reused):
# the Llama-3.2-1B shape in Q4_K_M, Q8_0 and F16, plus the Llama-3-8B shape in Q4_K_M
# when BENCH_8B=1 (4.9 GB). Runs `medify llm bench` on each with 1 and 2 threads
# (THREADS="1 2" to change; P and N set -p and -n, default 512 and 128) and prints one
# JSON line per run. With LLAMA_BENCH=/path/to/llama-bench (llama.cpp, built by you
# from its public source) it runs llama-bench on the same files and threads in the
# same run and prints medify/llama.cpp ratios for prompt and generation tokens/s.
# Build medify in Release first (cmake -DCMAKE_BUILD_TYPE=Release); BUILD_DIR defaults
# to ./build. MEDIFY_CPU=scalar|avx2|avx512 caps the kernels as usual.
set -eu

DIR=${1:?usage: bench/llm.sh DIR [BUILD_DIR]}
BUILD=${2:-build}
THREADS=${THREADS:-"1 2"}
P=${P:-512}
N=${N:-128}
MEDIFY=$BUILD/medify
GEN=$BUILD/md_gen_bench_model
[ -x "$MEDIFY" ] && [ -x "$GEN" ] || {
    echo "bench/llm.sh: $MEDIFY or $GEN missing (cmake --build $BUILD --target medify md_gen_bench_model)" >&2
    exit 66
}
mkdir -p "$DIR"

MODELS="1b:q4_k_m 1b:q8_0 1b:f16"
[ "${BENCH_8B:-0}" = 1 ] && MODELS="$MODELS 8b:q4_k_m"

# number after "key": in a one-line JSON object
json_num() { sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p" <<EOF
$1
EOF
}

for m in $MODELS; do
    shape=${m%%:*}
    type=${m#*:}
    file="$DIR/bench-llama-$shape-$type.gguf"
    [ -s "$file" ] || "$GEN" --shape "$shape" --type "$type" --out "$file"
    for t in $THREADS; do
        line=$("$MEDIFY" llm bench --model "$file" -p "$P" -n "$N" -t "$t" --json)
        echo "$line"
        if [ -n "${LLAMA_BENCH:-}" ]; then
            # llama-bench -o jsonl: one object per test (pp then tg), avg_ts = tokens/s
            ref=$("$LLAMA_BENCH" -m "$file" -p "$P" -n "$N" -t "$t" -r 1 -o jsonl 2>/dev/null) || {
                echo "{\"bench\":\"llm-ratio\",\"model\":\"$file\",\"n_threads\":$t,\"error\":\"llama-bench failed\"}"
                continue
            }
            pp_ref=$(printf '%s\n' "$ref" | grep "\"n_prompt\": *$P" | grep '"n_gen": *0' | sed -n 's/.*"avg_ts": *\([0-9.eE+-]*\).*/\1/p' | head -1)
            tg_ref=$(printf '%s\n' "$ref" | grep '"n_prompt": *0' | sed -n 's/.*"avg_ts": *\([0-9.eE+-]*\).*/\1/p' | head -1)
            pp=$(json_num "$line" prompt_tok_s)
            tg=$(json_num "$line" gen_tok_s)
            awk -v f="$file" -v t="$t" -v pp="$pp" -v tg="$tg" -v ppr="${pp_ref:-0}" -v tgr="${tg_ref:-0}" 'BEGIN {
                printf "{\"bench\":\"llm-ratio\",\"model\":\"%s\",\"n_threads\":%d,\"llama_cpp_prompt_tok_s\":%.2f,\"llama_cpp_gen_tok_s\":%.3f,\"prompt_ratio\":%.3f,\"gen_ratio\":%.3f}\n",
                    f, t, ppr, tgr, (ppr > 0 ? pp / ppr : 0), (tgr > 0 ? tg / tgr : 0) }'
        fi
    done
done
