/** Batched embeddings (engine level, generated models): inputs decoded together get the vectors they get alone, and the fallback path agrees. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { tempDir } from "./helpers.js";

const TEXTS = ["hello world", "a much longer sentence, with many more words in it than the first one has", "x", "cats and dogs", "the quick brown fox jumps over the lazy dog"];
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

async function model(poolingType: number | undefined): Promise<string> {
  const path = join(tempDir(), `embed-${poolingType ?? "none"}.gguf`);
  await generateModel(path, { shape: PRESETS.tiny, seed: 7, chatTemplate: null, ...(poolingType === undefined ? {} : { poolingType }) });
  return path;
}

describe("batched embeddings", () => {
  let batched: EmbeddingEngine;
  let sequential: EmbeddingEngine;
  let inputs: number[][];
  before(async () => {
    const path = await model(1);
    batched = await EmbeddingEngine.load({ modelPath: path, servedName: "embed", threads: 1, contextSize: 512, sequences: 4 });
    sequential = await EmbeddingEngine.load({ modelPath: path, servedName: "embed", threads: 1, contextSize: 512, batching: false });
    inputs = TEXTS.map((t) => batched.tokenize(t));
  });
  after(async () => {
    await batched?.close();
    await sequential?.close();
  });

  it("uses the native batch path when the addon is built, and says why not otherwise", () => {
    assert.deepEqual(batched.batching, { batched: true, batchSize: 8192, sequences: 4 });
    assert.deepEqual(sequential.batching, { batched: false, reason: "batching turned off" });
  });

  it("decodes inputs of concurrent calls together, each getting its own vector", async () => {
    const alone: Float32Array[] = [];
    for (const tokens of inputs.slice(0, 4)) alone.push((await batched.embed([tokens]))[0]!);
    const before = batched.stats();
    // Four calls in the same tick: the batcher starts its decode on the next turn of the event loop.
    const together = await Promise.all(inputs.slice(0, 4).map((tokens) => batched.embed([tokens])));
    const after = batched.stats();
    assert.equal(after.decodes - before.decodes, 1, "one decode for the four calls");
    assert.equal(after.inputs - before.inputs, 4);
    together.forEach(([v], i) => assert.ok(maxDiff(v!, alone[i]!) < 1e-5, `input ${i}: ${maxDiff(v!, alone[i]!)}`));
  });

  it("splits more inputs than sequences over several decodes, keeping their order", async () => {
    const before = batched.stats().decodes;
    const vectors = await batched.embed(inputs);
    assert.equal(batched.stats().decodes - before, 2, "5 inputs, 4 sequences per decode");
    for (const [i, tokens] of inputs.entries()) {
      const [alone] = await batched.embed([tokens]);
      assert.ok(maxDiff(vectors[i]!, alone!) < 1e-5, `input ${i}`);
    }
  });

  it("agrees with the one-at-a-time path (node-llama-cpp's embedding context)", async () => {
    const a = await batched.embed(inputs);
    const b = await sequential.embed(inputs);
    a.forEach((v, i) => assert.ok(maxDiff(v, b[i]!) < 1e-5, `input ${i}: ${maxDiff(v, b[i]!)}`));
    assert.equal(sequential.stats().largestBatch, 1);
  });

  it("pools like llama.cpp for CLS, last-token and no pooling too", async () => {
    for (const pooling of [2, 3, undefined]) {
      const path = await model(pooling);
      const a = await EmbeddingEngine.load({ modelPath: path, servedName: "e", threads: 1, contextSize: 512 });
      const b = await EmbeddingEngine.load({ modelPath: path, servedName: "e", threads: 1, contextSize: 512, batching: false });
      try {
        assert.equal(a.batching.batched, true);
        const together = await a.embed(inputs);
        const alone = await b.embed(inputs);
        together.forEach((v, i) => assert.ok(maxDiff(v, alone[i]!) < 1e-5, `pooling ${pooling} input ${i}: ${maxDiff(v, alone[i]!)}`));
      } finally {
        await a.close();
        await b.close();
      }
    }
  });

  it("falls back to one input at a time when batching is disabled by the environment", async () => {
    process.env.NIMBLE_NO_EMBEDDING_BATCH = "1";
    let engine: EmbeddingEngine | undefined;
    try {
      engine = await EmbeddingEngine.load({ modelPath: await model(1), servedName: "e", threads: 1, contextSize: 512 });
    } finally {
      delete process.env.NIMBLE_NO_EMBEDDING_BATCH;
    }
    try {
      assert.deepEqual(engine.batching, { batched: false, reason: "disabled by NIMBLE_NO_EMBEDDING_BATCH=1" });
      const [a, b] = await Promise.all([engine.embed([inputs[0]!]), engine.embed([inputs[1]!])]);
      assert.ok(maxDiff(a[0]!, (await sequential.embed([inputs[0]!]))[0]!) < 1e-5);
      assert.ok(b[0]!.length > 0);
      assert.equal(engine.stats().decodes, 2);
    } finally {
      await engine.close();
    }
  });
});
