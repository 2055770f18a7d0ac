/** When a decode step prefills more than one prompt: the measured-cost rule of prefill-pacing.ts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PrefillPacing } from "../src/engine/prefill-pacing.js";

describe("prefill pacing", () => {
  it("batches prompts until both a decode step and prefill have been measured", () => {
    const p = new PrefillPacing();
    assert.equal(p.joins(1000), true);
    p.record(4, 0, 8);
    assert.equal(p.decodeStepMs, 8);
    assert.equal(p.joins(1000), true, "prefill not measured yet");
    const q = new PrefillPacing();
    q.record(100, 100, 90);
    assert.equal(q.prefillMsPerToken, 0.9);
    assert.equal(q.joins(1000), true, "decode step not measured yet");
  });

  it("lets another prompt join only while prefilling it costs no more than a step", () => {
    const p = new PrefillPacing();
    p.record(4, 0, 8); // a decode-only step: 8 ms
    p.record(100, 96, 90); // mostly prefill: 0.9 ms a token
    assert.equal(p.joins(8), true); // 7.2 ms
    assert.equal(p.joins(9), false); // 8.1 ms
    assert.equal(p.joins(41), false);
    // Cheap prefill (a GPU, short prompts): prompts keep being batched.
    const gpu = new PrefillPacing();
    gpu.record(64, 0, 10);
    gpu.record(512, 512, 10.24);
    assert.equal(gpu.joins(400), true);
    assert.equal(gpu.joins(600), false);
  });

  it("learns prefill cost only from steps that are mostly prefill, and ignores nonsense", () => {
    const p = new PrefillPacing(0.5);
    p.record(40, 20, 30); // half prefill but under 32 prompt tokens
    p.record(100, 40, 30); // 40 prompt tokens of 100: mostly decode
    assert.equal(p.prefillMsPerToken, undefined);
    p.record(64, 64, 64);
    p.record(64, 64, 128); // weighted: 1 + 0.5 × (2 − 1)
    assert.equal(p.prefillMsPerToken, 1.5);
    p.record(4, 0, 10);
    p.record(4, 0, 20);
    assert.equal(p.decodeStepMs, 15);
    p.record(4, 0, Number.NaN);
    p.record(0, 0, 5);
    p.record(4, 0, -1);
    assert.equal(p.decodeStepMs, 15);
  });
});
