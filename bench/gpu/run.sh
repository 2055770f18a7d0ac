#!/bin/bash
# bench/gpu/run.sh — the one-shot GPU benchmark (issue 14), run on the GPU machine after bench/gpu/prepare.sh:
#   device run, carry [".gpu"], command `bash .gpu/run.sh`, timeout_s 560 (about 7-8 minutes of device time).
# Builds libggml-cuda.so, llama-server and llama-batched-bench from the bundled llama.cpp source (~4 min on 16 cores),
# generates the 1.1B model (2048 embd, 16 layers, 32 heads, 8 KV heads, 8192 FF, 32k vocab, Q8_0), runs
# `nimble bench --compare` Nimble vs llama-server at c = 1, 16, 64 (Nimble with the libuv pool that bin/threadpool-size.cjs
# chooses for a GPU host, and once more with UV_THREADPOOL_SIZE=1 at c = 64 for the A/B), then the batched decode
# ceiling. Results land in $OUT: log.txt, bench-*/results.json. Record them in docs/BENCHMARKS.md with the date and the GPU.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; exec > >(tee "$OUT/log.txt") 2>&1
T0=$(date +%s); t() { echo "[t=$(( $(date +%s) - T0 ))s] $*"; }
t start; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
mkdir -p /tmp/nodebin /tmp/src /tmp/app
tar -xJf .gpu/node.tar.xz -C /tmp/nodebin & P1=$!; tar -xJf .gpu/llama-src.tar.xz -C /tmp/src & P2=$!; tar -xJf .gpu/nimble.tar.xz -C /tmp/app & P3=$!; wait $P1 $P2 $P3
export PATH=/tmp/nodebin:$PATH
NVCC=$(command -v nvcc || ls /usr/local/cuda*/bin/nvcc | head -1); export PATH=$(dirname "$NVCC"):$PATH
CUDART=$(dirname "$(find /usr/local /opt /usr/lib -name 'libcudart.so.13*' 2>/dev/null | head -1)")
CUBLAS=$(dirname "$(find /usr/local /opt /usr/lib -name 'libcublas.so.13*' 2>/dev/null | head -1)")
LIBCUDA=$(dirname "$(ldconfig -p | awk '/libcuda.so.1/{print $NF; exit}')")
export LD_LIBRARY_PATH=$CUDART:$CUBLAS:$LIBCUDA:${LD_LIBRARY_PATH:-}
t extracted
( cd /tmp/app && node bin/nimble.cjs gen-model --embedding-size 2048 --layers 16 --heads 32 --kv-heads 8 --ff-size 8192 --vocab-size 32000 \
  --context-length 8192 --type Q8_0 --out /tmp/m1b.gguf | tail -1 ) > /tmp/gen.log 2>&1 & GENPID=$!
cmake -S /tmp/src -B /tmp/build -G Ninja -DGGML_CUDA=ON -DGGML_BACKEND_DL=ON -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Release > /tmp/cmake.log 2>&1 || { tail -30 /tmp/cmake.log; exit 1; }
timeout ${BUILD_S:-400} cmake --build /tmp/build -j"$(nproc)" --target ggml-cuda ggml-cpu llama-server llama-batched-bench > /tmp/build.log 2>&1 || { t "build failed"; grep -m5 -i error /tmp/build.log; exit 1; }
t built; wait $GENPID; cat /tmp/gen.log
cp /tmp/build/bin/libggml-cuda.so /tmp/app/node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda/
ready() { for i in $(seq 1 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0; sleep 0.2; done; return 1; }
run_pair() { # $1: label, $2: levels, extra env for Nimble in $NIMBLE_ENV
  (cd /tmp/app && exec env $NIMBLE_ENV setsid node bin/nimble.cjs serve --model /tmp/m1b.gguf --gpu cuda --parallel 64 --ctx-size 1024 --port 8001) > "/tmp/nimble-$1.log" 2>&1 & NP=$!
  LD_LIBRARY_PATH=/tmp/build/bin:$LD_LIBRARY_PATH setsid /tmp/build/bin/llama-server -m /tmp/m1b.gguf -ngl 999 -np 64 -c 65536 --port 8002 > "/tmp/llama-$1.log" 2>&1 & LP=$!
  ready http://127.0.0.1:8001/v1/health/ready && ready http://127.0.0.1:8002/health || { tail -20 "/tmp/nimble-$1.log" "/tmp/llama-$1.log"; exit 1; }
  grep -m3 -E "hardware|threads" "/tmp/nimble-$1.log"
  (cd /tmp/app && node bin/nimble.cjs bench --url http://127.0.0.1:8001 --label "nimble-$1" --compare http://127.0.0.1:8002 --compare-label llama-server \
     --endpoint completions --input-tokens 200 --output-tokens 128 --concurrency "$2" --no-progress --out "$OUT/bench-$1") | tail -12
  kill -- -$NP -$LP 2>/dev/null; sleep 2
}
NIMBLE_ENV="NIMBLE_GPU=cuda" run_pair auto "${LEVELS:-1,16,64}"; t "auto pool done"
NIMBLE_ENV="UV_THREADPOOL_SIZE=1" run_pair uv1 64; t "UV_THREADPOOL_SIZE=1 done"
LD_LIBRARY_PATH=/tmp/build/bin:$LD_LIBRARY_PATH timeout 90 /tmp/build/bin/llama-batched-bench -m /tmp/m1b.gguf -ngl 999 -c 32768 -b 2048 -ub 512 \
  -npp 128 -ntg 128 -npl 1,16,64 2>/dev/null | grep -E "^\|" | tail -4
t done
