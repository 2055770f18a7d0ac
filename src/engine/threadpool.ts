/**
 * A persistent llama.cpp CPU thread pool for a node-llama-cpp context, through Nimble's small
 * optional native addon (native/threadpool.c, built by `npm ci`; loaded by addon.ts).
 *
 * Without it ggml starts and joins its worker threads for every decode step: on a 2-core machine
 * a one-token step took 10 ms on 2 threads against 2.4 ms with the pool (docs/BENCHMARKS.md).
 * If the addon is not built (no compiler) or does not recognise node-llama-cpp's context, Nimble
 * still works: the thread tuner then simply finds that fewer threads are faster.
 */
import type { LlamaContext, LlamaModel } from "node-llama-cpp";
import { loadAddon } from "./addon.js";
import { nativeContext, nativeModelHandle } from "./native.js";

export interface ThreadPoolStatus {
  attached: boolean;
  /** Why no pool is attached. */
  reason?: string;
  /** Detaches and frees the pool; call before disposing the context. */
  detach(): void;
}

export function attachThreadPool(context: LlamaContext, model: LlamaModel, sequences: number, threads: number): ThreadPoolStatus {
  const none = (reason: string): ThreadPoolStatus => ({ attached: false, reason, detach: () => {} });
  if (process.env.NIMBLE_NO_THREADPOOL === "1") return none("disabled by NIMBLE_NO_THREADPOOL=1");
  const addon = loadAddon();
  if (typeof addon === "string") return none(addon);
  const ctx = nativeContext(context);
  const mdl = nativeModelHandle(model);
  // Poll level 0: idle workers sleep instead of spinning, leaving the cores to Node between steps.
  const result = addon.attach(ctx, mdl, sequences, threads, 0);
  if (!result.attached || result.handle === undefined) return none(result.reason ?? "unknown reason");
  let attached = true;
  return {
    attached: true,
    detach: () => {
      if (!attached) return;
      attached = false;
      addon.detach(ctx, mdl, sequences, result.handle!);
    },
  };
}
