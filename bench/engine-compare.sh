#!/bin/bash
# bench/engine-compare.sh — issue 14 parts 3 and 4 against llama.cpp's server, one run (quiet machine, ~5 minutes):
#   bash bench/engine-compare.sh LLAMA_SERVER_BINARY [ITS EXTRA ARGS...]
# Nimble (--parallel 4, its default KV cache tier) against llama-server -np 4 with its prompt cache in RAM (--cache-ram,
# default 8 GiB) and without it (--cache-ram 0), on the generated `bench` model, default threads:
#   shared-prefix burst: c = 4, 16 requests, a 400-token system prompt, 32-token questions, 64 output tokens, no warm-up;
#   multi-turn: 16 conversations × 4 turns, 8 at a time, a 130-token shared system prompt, 40-token turns, 64 output tokens.
# Results: bench/results/engine-compare-*/ (results.json and report.html per comparison).
set -u
cd "$(dirname "$0")/.."
LLAMA=$1; shift; LLAMA_ARGS=("$@")
OUT=bench/results/engine-compare-$(date -u +%Y%m%dT%H%M%SZ); mkdir -p "$OUT"
MODEL=${MODEL:-/tmp/nimble-bench.gguf}
[ -f "$MODEL" ] || node bin/nimble.cjs gen-model --preset bench --out "$MODEL" > /dev/null
PIDS=(); trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done' EXIT
ready() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }
node bin/nimble.cjs serve --model "$MODEL" --port 18201 --parallel 4 --ctx-size 4096 --log-level error > "$OUT/nimble.log" 2>&1 & PIDS+=($!)
"$LLAMA" -m "$MODEL" --port 18202 -np 4 -c 16384 -t "$(nproc)" -tb "$(nproc)" --no-webui "${LLAMA_ARGS[@]}" > "$OUT/llama.log" 2>&1 & PIDS+=($!)
"$LLAMA" -m "$MODEL" --port 18203 -np 4 -c 16384 -t "$(nproc)" -tb "$(nproc)" --no-webui --cache-ram 0 "${LLAMA_ARGS[@]}" > "$OUT/llama-nocache.log" 2>&1 & PIDS+=($!)
ready http://127.0.0.1:18201/v1/health/ready; ready http://127.0.0.1:18202/health; ready http://127.0.0.1:18203/health
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/summary.txt"
run() { # $1: name, $2: llama port, $3: label, rest: workload flags
  local name=$1 port=$2 label=$3; shift 3
  node bin/nimble.cjs bench --url http://127.0.0.1:18201 --label Nimble --compare "http://127.0.0.1:$port" --compare-label "$label" \
    --no-progress --out "$OUT/$name" "$@" > "$OUT/$name.txt" 2>&1
  echo "== $name" | tee -a "$OUT/summary.txt"; grep -E "^\| (Nimble|llama)|^\| server|^\| target" "$OUT/$name.txt" | tee -a "$OUT/summary.txt" || tail -5 "$OUT/$name.txt"
}
SP=(--workload shared-prefix --prefix-tokens 400 --input-tokens 32 --output-tokens 64 --concurrency 4 --requests 16 --warmup 0 --seed 21)
MT=(--workload multi-turn --system-tokens 130 --conversations 16 --turns 4 --concurrency 8 --input-tokens 40 --output-tokens 64 --warmup 0 --seed 22)
run shared-prefix-cacheram 18202 "llama.cpp --cache-ram" "${SP[@]}"
run shared-prefix-nocache 18203 "llama.cpp --cache-ram 0" "${SP[@]}" --seed 23
run multi-turn-cacheram 18202 "llama.cpp --cache-ram" "${MT[@]}"
run multi-turn-nocache 18203 "llama.cpp --cache-ram 0" "${MT[@]}" --seed 24
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"
echo "results in $OUT"
