#!/usr/bin/env node
/*
 * The `nimble` executable. Before anything else runs, it sizes libuv's thread pool to one thread
 * (unless UV_THREADPOOL_SIZE is set): llama.cpp's decode and sampling calls run on that pool, and
 * keeping them on one hot thread instead of spreading them over four made decode steps ~25% faster
 * on a 2-core machine (docs/BENCHMARKS.md). The server does no other heavy work on that pool.
 * This file is CommonJS on purpose: the ES module loader would start the pool before it could be sized.
 */
"use strict";
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = "1";
import("../dist/src/cli/main.js").catch((err) => {
  process.stderr.write(`nimble: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
