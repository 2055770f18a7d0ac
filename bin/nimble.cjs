#!/usr/bin/env node
/*
 * The `nimble` executable. Before anything else runs, it sizes libuv's thread pool from the hardware
 * (threadpool-size.cjs: 1 thread on small CPUs, more on GPU hosts and many-core CPUs, where sequences
 * are sampled in parallel; UV_THREADPOOL_SIZE overrides). llama.cpp's decode and sampling calls run
 * on that pool; the server does no other heavy work on it. This file is CommonJS on purpose: the ES
 * module loader would start the pool before it could be sized.
 */
"use strict";
if (!process.env.UV_THREADPOOL_SIZE) {
  const { chooseThreadPoolSize, probeMachine } = require("./threadpool-size.cjs");
  const choice = chooseThreadPoolSize(probeMachine());
  process.env.UV_THREADPOOL_SIZE = String(choice.size);
  process.env.NIMBLE_THREADPOOL_SIZE_WHY = choice.why;
}
import("../dist/src/cli/main.js").catch((err) => {
  process.stderr.write(`nimble: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
