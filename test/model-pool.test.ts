/**
 * The model pool. What it promises about real models (a model in use is never unloaded and keeps
 * generating, the memory budget refuses with MemoryBudgetError, keep-alive unloads and really closes
 * the engine) runs on generated tiny models (LlamaEngine, node-llama-cpp). Stand-ins are kept for the
 * pure bookkeeping rules (sharing one load, LRU order, aliases, preload/close), where a real model
 * adds load time and nothing else.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LlamaEngine } from "../src/engine/llama-engine.js";
import { MemoryBudgetError, ModelNotFoundError, ModelPool, type ModelSpec, type PooledModel } from "../src/engine/model-pool.js";
import { EngineClosedError, type GenerationRequest } from "../src/engine/types.js";
import { estimateModelMemory } from "../src/models/memory.js";
import { tinyModelPath, waitFor } from "./helpers.js";

class Stub implements PooledModel {
  closed = false;
  constructor(readonly id: string) {}
  async close(): Promise<void> { this.closed = true; }
}

function specs(loads: string[], over: Partial<ModelSpec<Stub>> = {}, ids = ["a", "b", "c"]): ModelSpec<Stub>[] {
  return ids.map((id) => ({
    id,
    kind: "chat" as const,
    source: `/models/${id}.gguf`,
    estimateBytes: async () => 100,
    load: async () => {
      loads.push(id);
      await new Promise((r) => setTimeout(r, 20));
      return new Stub(id);
    },
    ...over,
  }));
}

const states = <M extends PooledModel>(pool: ModelPool<M>) => Object.fromEntries(pool.status().map((s) => [s.id, s.state]));

describe("ModelPool", () => {
  it("loads on first use; concurrent requests during the load share it", async () => {
    const loads: string[] = [];
    const pool = new ModelPool(specs(loads), 1000);
    const leases = await Promise.all([pool.acquire("a"), pool.acquire("a"), pool.acquire("a")]);
    assert.deepEqual(loads, ["a"]);
    assert.ok(leases.every((l) => l.model === leases[0]!.model));
    assert.equal(pool.status()[0]!.leases, 3);
    for (const l of leases) l.release();
    assert.equal(pool.status()[0]!.leases, 0);
  });

  it("with a budget for two, unloads the least recently used idle model and reloads it on demand", async () => {
    const loads: string[] = [];
    const pool = new ModelPool(specs(loads), 250);
    (await pool.acquire("a")).release();
    (await pool.acquire("b")).release();
    (await pool.acquire("a")).release(); // a is now the more recent
    (await pool.acquire("c")).release();
    assert.deepEqual(states(pool), { a: "loaded", b: "unloaded", c: "loaded" });
    (await pool.acquire("b")).release();
    assert.deepEqual(states(pool), { a: "unloaded", b: "loaded", c: "loaded" });
    assert.deepEqual(loads, ["a", "b", "c", "b"]);
  });

  it("resolves aliases, rejects unknown names and duplicate names", async () => {
    const pool = new ModelPool(specs([], { aliases: undefined }).map((s, i) => ({ ...s, aliases: [`alias${i}`] })), 1000);
    assert.equal((await pool.acquire("alias1")).id, "b");
    await assert.rejects(pool.acquire("nope"), ModelNotFoundError);
    assert.throws(() => new ModelPool(specs([]).map((s) => ({ ...s, aliases: ["x"] })), 1000), /used twice/);
  });

  it("preloads, unloads on request and closes everything", async () => {
    const loads: string[] = [];
    const pool = new ModelPool(specs(loads).map((s) => ({ ...s, preload: s.id !== "c" })), 1000);
    await pool.preload();
    assert.deepEqual(loads, ["a", "b"]);
    await pool.unload("a");
    assert.equal(states(pool).a, "unloaded");
    const b = pool.peek("b")!;
    await pool.close();
    assert.ok(b.closed);
    assert.deepEqual(states(pool), { a: "unloaded", b: "unloaded", c: "unloaded" });
  });
});

/** Generated tiny chat models (one file, served under several ids), each a real LlamaEngine: one sequence of 512 tokens, one thread. */
async function tinySpecs(ids: string[], over: Partial<ModelSpec<LlamaEngine>> = {}): Promise<{ specs: ModelSpec<LlamaEngine>[]; bytes: number }> {
  const path = await tinyModelPath();
  const bytes = (await estimateModelMemory(path, { contextSize: 512, sequences: 1 })).totalBytes;
  const specs = ids.map((id) => ({
    id,
    kind: "chat" as const,
    source: path,
    estimateBytes: async () => bytes,
    load: () => LlamaEngine.load({ modelPath: path, servedName: id, parallel: 1, contextSize: 512, maxQueue: 4, threads: 1, gpu: "cpu", kvCacheRamBytes: 0 }),
    ...over,
  }));
  return { specs, bytes };
}

function request(maxTokens: number): GenerationRequest {
  return {
    promptTokens: [1, 2, 3, 4],
    sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, seed: 1, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
    maxTokens,
    minTokens: 0,
    ignoreEos: true,
    stop: [],
  };
}

describe("ModelPool on generated models", () => {
  it("never unloads a model in use: another model's load waits while it keeps generating, then takes its place", async () => {
    const { specs, bytes } = await tinySpecs(["a", "b"]);
    const pool = new ModelPool(specs, Math.floor(bytes * 1.5), {}, 120_000);
    try {
      const a = await pool.acquire("a");
      const b = pool.acquire("b");
      // b is loading (waiting for room) and a stays loaded while its lease is held.
      await waitFor(async () => states(pool).b === "loading");
      const generated = await a.model.generate(request(16)).result;
      assert.equal(generated.finishReason, "length");
      assert.deepEqual(states(pool), { a: "loaded", b: "loading" });
      a.release();
      const lease = await b;
      assert.deepEqual(states(pool), { a: "unloaded", b: "loaded" });
      // a's engine was closed for real; b's generates.
      assert.throws(() => a.model.generate(request(2)), EngineClosedError);
      assert.equal((await lease.model.generate(request(2)).result).finishReason, "length");
      lease.release();
    } finally {
      await pool.close();
    }
  });

  it("refuses with MemoryBudgetError a model larger than the budget, and one that cannot fit while others stay busy", async () => {
    const { specs, bytes } = await tinySpecs(["a", "b"]);
    const small = new ModelPool(specs, bytes - 1);
    await assert.rejects(small.acquire("a"), (err: unknown) => err instanceof MemoryBudgetError && err.neededBytes === bytes && err.busy.length === 0 && /memory budget/.test(err.message));
    assert.equal(states(small).a, "failed");
    await small.close();

    const pool = new ModelPool(specs, Math.floor(bytes * 1.5), {}, 0);
    try {
      const a = await pool.acquire("a");
      await assert.rejects(pool.acquire("b"), (err: unknown) => err instanceof MemoryBudgetError && err.busy.includes("a"));
      assert.equal(states(pool).a, "loaded");
      assert.equal((await a.model.generate(request(2)).result).finishReason, "length");
      a.release();
      // Once a is idle, b fits (a is evicted).
      const b = await pool.acquire("b");
      assert.deepEqual(states(pool), { a: "unloaded", b: "loaded" });
      b.release();
    } finally {
      await pool.close();
    }
  });

  it("keep-alive: 0 unloads as soon as idle, a duration unloads after it, -1 outlives both; a request's value wins", async () => {
    const { specs } = await tinySpecs(["keep", "zero", "timed"], { keepAliveMs: -1 });
    const unloaded: string[] = [];
    const pool = new ModelPool(specs, Number.MAX_SAFE_INTEGER, { onUnloaded: (id) => unloaded.push(id) });
    try {
      const keep = await pool.acquire("keep");
      keep.release(); // the model's own -1
      const zero = await pool.acquire("zero");
      zero.release(0);
      await waitFor(async () => states(pool).zero === "unloaded");
      assert.throws(() => zero.model.generate(request(2)), EngineClosedError);
      const timed = await pool.acquire("timed");
      timed.release(300);
      assert.equal(states(pool).timed, "loaded");
      await waitFor(async () => states(pool).timed === "unloaded");
      // By order, not by clock: the ones given 0 and 300 ms went, the one kept (-1) is still loaded and serving.
      assert.deepEqual(unloaded, ["zero", "timed"]);
      assert.equal(states(pool).keep, "loaded");
      assert.equal((await keep.model.generate(request(2)).result).finishReason, "length");
    } finally {
      await pool.close();
    }
  });
});
