/**
 * One node-llama-cpp `Llama` per GPU choice for the whole process, shared by chat, embedding and
 * reranking engines and by hardware detection.
 *
 * Each `getLlama` call makes a new instance that registers its own logger, and node-llama-cpp
 * 3.21.1 then loses the first one's (its cleanup unsets the newer registration): llama.cpp's lines
 * went to node-llama-cpp's console fallback instead of Nimble's log once a server held a chat and an
 * embedding model. One instance keeps one logger (`llamaLogger`, llama-log.ts) and loads the
 * backend once. It lives as long as the process: engines dispose their models and contexts, never it.
 */
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { llamaLogger } from "./llama-log.js";

import type { GpuChoice } from "./llama-engine.js";

const instances = new Map<GpuChoice, Promise<Llama>>();

export function sharedLlama(gpu: GpuChoice = "auto"): Promise<Llama> {
  let llama = instances.get(gpu);
  if (!llama) {
    llama = getLlama({ gpu: gpu === "cpu" ? false : gpu, logLevel: LlamaLogLevel.error, logger: llamaLogger, progressLogs: false });
    // A failed start (no such GPU backend) is not kept: the next call tries again.
    llama.catch(() => instances.delete(gpu));
    instances.set(gpu, llama);
  }
  return llama;
}
