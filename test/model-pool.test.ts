/** The model pool on stand-in models: loading on demand, LRU eviction within the budget, keep-alive, waiting. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBudgetError, ModelNotFoundError, ModelPool, type ModelSpec, type PooledModel } from "../src/engine/model-pool.js";

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

const states = (pool: ModelPool<Stub>) => Object.fromEntries(pool.status().map((s) => [s.id, s.state]));

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

  it("never unloads a model in use: a load waits until one is idle", async () => {
    const pool = new ModelPool(specs([]), 150, {}, 5_000);
    const a = await pool.acquire("a");
    const b = pool.acquire("b");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(states(pool).a, "loaded");
    a.release();
    (await b).release();
    assert.deepEqual(states(pool), { a: "unloaded", b: "loaded", c: "unloaded" });
  });

  it("refuses with MemoryBudgetError when the model cannot fit or others stay busy", async () => {
    const big = new ModelPool([{ ...specs([])[0]!, estimateBytes: async () => 5000 }], 1000);
    await assert.rejects(big.acquire("a"), (err: unknown) => err instanceof MemoryBudgetError && /memory budget/.test(err.message));
    assert.equal(states(big).a, "failed");
    const pool = new ModelPool(specs([]), 150, {}, 50);
    const a = await pool.acquire("a");
    await assert.rejects(pool.acquire("b"), (err: unknown) => err instanceof MemoryBudgetError && err.busy.includes("a"));
    a.release();
    (await pool.acquire("b")).release();
  });

  it("keep-alive: 0 unloads when idle, a duration unloads after it, -1 keeps; a request's value wins", async () => {
    const pool = new ModelPool(specs([], { keepAliveMs: -1 }), 1000);
    (await pool.acquire("a")).release(0);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(states(pool).a, "unloaded");
    (await pool.acquire("b")).release(40);
    assert.equal(states(pool).b, "loaded");
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(states(pool).b, "unloaded");
    (await pool.acquire("c")).release();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(states(pool).c, "loaded");
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
