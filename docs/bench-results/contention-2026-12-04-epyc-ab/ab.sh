#!/bin/bash
# quiet A/B: guard vs no guard, 3 x ABBA (guard, no guard, no guard, guard; each seed run by both), c=1, 4 requests each
cd "$(dirname "$0")/../../.."   # the project root (this file lives in docs/bench-results/…/)
M=/tmp/nimble-bench.gguf
[ -f $M ] || node bin/nimble.cjs gen-model --preset bench --out $M > /dev/null
node bin/nimble.cjs serve --model $M --port 18121 --parallel 1 --log-level error > /tmp/ab-g.log 2>&1 & G=$!
NIMBLE_CONTENTION_GUARD=0 node bin/nimble.cjs serve --model $M --port 18122 --parallel 1 --log-level error > /tmp/ab-n.log 2>&1 & N=$!
for p in 18121 18122; do for i in $(seq 200); do curl -sf -o /dev/null http://127.0.0.1:$p/v1/health/ready && break; sleep 0.2; done; done
run() { node bin/nimble.cjs bench --url http://127.0.0.1:$2 --workload synthetic --input-tokens 300 --output-tokens 128 --concurrency 1 --requests 4 --warmup 1 --seed $3 --no-progress --out /tmp/ab/$1-$3 > /dev/null 2>&1
  node -e 'const r=require(process.argv[1]);const m=r.levels[0].results[0];console.log(process.argv[2], m.outputTokensPerSecond.toFixed(1))' /tmp/ab/$1-$3/results.json $1; }
mkdir -p /tmp/ab
for k in 1 2 3; do s=$((100+k*10)); run guard 18121 $s; run noguard 18122 $s; run noguard 18122 $((s+1)); run guard 18121 $((s+1)); done
curl -s http://127.0.0.1:18121/v1/metadata | grep -o '"contention":{[^}]*}'
kill $G $N
