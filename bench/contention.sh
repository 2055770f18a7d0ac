#!/bin/bash
# bench/contention.sh — issue 14 part 2: does a busy core make Nimble collapse? (run on a quiet machine)
#   bash bench/contention.sh [LLAMA_SERVER_BINARY [ITS EXTRA ARGS...]]   (after npm ci; ~6 minutes on 2 cores)
# On CPUs with AMX (Xeon Sapphire Rapids and later) a -march=native llama-server crashes in its AMX matmul on the
# generated models unless weight repacking is off: pass --no-repack (node-llama-cpp's prebuilt CPU backend runs fine).
# Three servers on the generated `bench` model, c = 1, default threads (all cores): Nimble as shipped ("guard"),
# Nimble with NIMBLE_CONTENTION_GUARD=0 (the behaviour before the guard), and llama.cpp's server when a binary is given
# (build it from node_modules/node-llama-cpp/llama/gitRelease.bundle, see docs/BENCHMARKS.md). Each is measured quiet (the two Nimble servers twice),
# then with `yes > /dev/null` keeping one core busy. Results: bench/results/contention-*/ (results.json per pair) and a
# summary on stdout.
set -u
cd "$(dirname "$0")/.."
LLAMA=${1:-}; shift || true; LLAMA_ARGS=("$@")
OUT=bench/results/contention-$(date -u +%Y%m%dT%H%M%SZ); mkdir -p "$OUT"
MODEL=${MODEL:-/tmp/nimble-bench.gguf}
[ -f "$MODEL" ] || node bin/nimble.cjs gen-model --preset bench --out "$MODEL" > /dev/null
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; pkill -P $$ yes 2>/dev/null; }
trap cleanup EXIT
ready() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }
node bin/nimble.cjs serve --model "$MODEL" --port 18101 --parallel 1 --log-level error > "$OUT/guard.log" 2>&1 & PIDS+=($!)
NIMBLE_CONTENTION_GUARD=0 node bin/nimble.cjs serve --model "$MODEL" --port 18102 --parallel 1 --log-level error > "$OUT/noguard.log" 2>&1 & PIDS+=($!)
ready http://127.0.0.1:18101/v1/health/ready; ready http://127.0.0.1:18102/v1/health/ready
if [ -n "$LLAMA" ]; then
  "$LLAMA" -m "$MODEL" --port 18103 -np 1 -c 4096 -t "$(nproc)" -tb "$(nproc)" --no-webui "${LLAMA_ARGS[@]}" > "$OUT/llama.log" 2>&1 & PIDS+=($!)
  ready http://127.0.0.1:18103/health
fi
# One level, c = 1: 300 tokens in, 128 out; a request that takes over 90 s counts as an error.
bench() { # $1: name, $2: url, $3: requests (default 4), $4: warm-up requests (default 1); $SEED: the prompts
  local name=$1 url=$2
  node bin/nimble.cjs bench --url "$url" --workload synthetic --input-tokens 300 --output-tokens 128 --concurrency 1 \
    --requests "${3:-4}" --warmup "${4:-1}" --timeout 90 --seed "$SEED" --no-progress --out "$OUT/$name" > "$OUT/$name.txt" 2>&1
  [ -f "$OUT/$name/results.json" ] || { echo "$name: no result ($(tail -1 "$OUT/$name.txt"))" | tee -a "$OUT/summary.txt"; return; }
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1] + "/results.json", "utf8"));
    const m = r.levels[0].results[0];
    console.log(`${process.argv[2].padEnd(22)} ${m.outputTokensPerSecond.toFixed(1).padStart(7)} tok/s  TTFT p50 ${Math.round(m.ttftMs.p50 ?? NaN)} ms  ITL p50 ${(m.itlMs.p50 ?? NaN).toFixed(1)} ms  errors ${m.errors}/${m.requests}`);
  ' "$OUT/$name" "$name" | tee -a "$OUT/summary.txt"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"
for round in quiet busy; do
  # The servers of a round get the same prompts; every round (and the guard's repeat) new ones, so no prefix is cached.
  if [ $round = busy ]; then SEED=6; yes > /dev/null & YES=$!; sleep 2; else SEED=5; fi
  bench "$round-guard" http://127.0.0.1:18101
  # Without the guard (and llama-server) a busy core can mean minutes per request: 2 requests, no warm-up.
  if [ $round = busy ]; then bench "$round-noguard" http://127.0.0.1:18102 2 0; else bench "$round-noguard" http://127.0.0.1:18102; fi
  if [ -n "$LLAMA" ]; then if [ $round = busy ]; then bench "$round-llama" http://127.0.0.1:18103 2 0; else bench "$round-llama" http://127.0.0.1:18103; fi; fi
  # Quiet, no guard a second time (in the same place of the order as the guard's repeat, after llama-server).
  if [ $round = quiet ]; then SEED=$((SEED + 10)) bench "$round-noguard-2" http://127.0.0.1:18102; fi
  SEED=$((SEED + 10)) bench "$round-guard-2" http://127.0.0.1:18101
  # What the guard did so far (counters since start): steps with fewer threads, back-offs, its estimate of others' CPU.
  echo "guard after $round: $(curl -s http://127.0.0.1:18101/v1/metadata | grep -o '"contention":{[^}]*}')" | tee -a "$OUT/summary.txt"
  if [ $round = busy ]; then kill $YES; wait $YES 2>/dev/null; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"
echo "results in $OUT"
