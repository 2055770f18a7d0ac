/*
 * How many libuv threads the `nimble` executable starts (UV_THREADPOOL_SIZE), chosen from the hardware
 * before the ES module loader starts the pool. llama.cpp's decode and every sequence's sampling run
 * on that pool:
 *   - a CPU with few cores (≤ 4): 1 thread. Decode and sampling stay on one hot thread; spreading
 *     them over four made decode steps ~25% slower on 2 cores (docs/BENCHMARKS.md).
 *   - a GPU host (CUDA or Vulkan device nodes, Apple silicon, or --gpu/NIMBLE_GPU naming one): the
 *     GPU decodes while the CPU samples, so sampling 64 sequences one after another on one thread
 *     was the bottleneck: 8 threads gave 1.65× the output of 1 on an H200 (c = 64). Half the cores, 2 to 8.
 *   - a CPU with many cores: a quarter of them, 2 to 8 (sampling many sequences in parallel, while
 *     most cores decode).
 * UV_THREADPOOL_SIZE set in the environment always wins.
 */
"use strict";

function gpuRequested(argv, env) {
  let gpu = env.NIMBLE_GPU;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--gpu" && i + 1 < argv.length) gpu = argv[i + 1];
    else if (argv[i].startsWith("--gpu=")) gpu = argv[i].slice(6);
  }
  return gpu;
}

/** { size, why } for this machine; `probe` is injectable for tests. */
function chooseThreadPoolSize(probe) {
  const { env, argv, cores, platform, arch, exists } = probe;
  if (env.UV_THREADPOOL_SIZE) return { size: Number(env.UV_THREADPOOL_SIZE), why: "UV_THREADPOOL_SIZE" };
  const gpu = gpuRequested(argv, env);
  const hasGpu = gpu === "cpu" ? false
    : gpu === "cuda" || gpu === "vulkan" || gpu === "metal" ? true
    : exists("/dev/nvidia0") || exists("/dev/dxg") || (platform === "darwin" && arch === "arm64");
  if (hasGpu) return { size: Math.max(2, Math.min(8, Math.floor(cores / 2))), why: "GPU host" };
  if (cores <= 4) return { size: 1, why: `CPU, ${cores} cores` };
  return { size: Math.max(2, Math.min(8, Math.floor(cores / 4))), why: `CPU, ${cores} cores` };
}

function probeMachine() {
  const os = require("node:os");
  const fs = require("node:fs");
  return {
    env: process.env,
    argv: process.argv.slice(2),
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length,
    platform: process.platform,
    arch: process.arch,
    exists: (path) => fs.existsSync(path),
  };
}

module.exports = { chooseThreadPoolSize, probeMachine };
