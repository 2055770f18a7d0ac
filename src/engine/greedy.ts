/**
 * Greedy sampling on the main thread, through Nimble's native addon (native/greedy.c).
 *
 * node-llama-cpp samples on libuv's thread pool, one hop there and back per call: at one stream on
 * 2 cores that is ~0.2 ms of a ~6-ms step. A request whose sampler is plain greedy (temperature 0,
 * no grammar, penalties, biases or logprobs) gets the same token from the logits row directly: the
 * first token with the highest logit, as llama.cpp's greedy sampler picks it. Off with
 * NIMBLE_GREEDY_FAST=0, or where the addon is not built.
 */
import type { LlamaContext, LlamaModel } from "node-llama-cpp";
import { loadAddon } from "./addon.js";
import { nativeContext, nativeModelHandle } from "./native.js";

/** The most likely token of an output row of the last decode; -1 when the row cannot be read (use the sampler). */
export type GreedyToken = (batchLogitIndex: number) => number;

export function greedyToken(context: LlamaContext, model: LlamaModel, sequences: number): GreedyToken | undefined {
  if (process.env.NIMBLE_GREEDY_FAST === "0") return undefined;
  const addon = loadAddon();
  if (typeof addon === "string" || !addon.greedyToken) return undefined;
  const ctx = nativeContext(context);
  const mdl = nativeModelHandle(model);
  const native = addon.greedyToken;
  return (index) => native(ctx, mdl, sequences, index);
}
