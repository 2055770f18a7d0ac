/**
 * A context's sequence states through Nimble's native addon (native/kv-state.c): copy one
 * sequence's KV cells onto another, and take them out to host memory and back. The scheduler uses
 * them for shared-prefix copies and the KV cache tier; without the addon both are off.
 */
import type { LlamaContext, LlamaModel } from "node-llama-cpp";
import { loadAddon } from "./addon.js";
import { nativeContext, nativeModelHandle } from "./native.js";
import type { SequenceStates } from "./scheduler.js";

/** The context's sequence states, or why they are not available. */
export function sequenceStates(context: LlamaContext, model: LlamaModel, sequences: number): SequenceStates | string {
  const addon = loadAddon();
  if (typeof addon === "string") return addon;
  const { seqStateGet, seqStateSet, seqCopy } = addon;
  if (!seqStateGet || !seqStateSet || !seqCopy) return "the native addon is older than this Nimble; run npm run build:native";
  const ctx = nativeContext(context);
  const mdl = nativeModelHandle(model);
  return {
    get: (id) => seqStateGet(ctx, mdl, sequences, id),
    set: (id, state) => seqStateSet(ctx, mdl, sequences, id, state) > 0,
    copy: (from, to) => void seqCopy(ctx, mdl, sequences, from, to),
  };
}
