/**
 * How long models stay loaded, on a real server with generated tiny models (they load in well
 * under a second): keep-alive per model, server-wide (--keep-alive) and per request (durations,
 * seconds, 0, negative), the memory budget's 503 over HTTP, and an admin unload that waits for the
 * requests running on the model. Plus parseKeepAlive's grammar. Assertions are about order
 * ("unloaded while the other is still loaded"), never about how long something took.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { resolveConfig } from "../src/config.js";
import { parseKeepAlive } from "../src/engine/model-pool.js";
import { estimateModelMemory } from "../src/models/memory.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { postJson, readSse, tempDir, tinyModelPath, waitFor } from "./helpers.js";

describe("parseKeepAlive", () => {
  it("reads seconds and Ollama's durations; negative keeps; 0 unloads; anything else is refused", () => {
    const cases: [string | number, number][] = [
      [300, 300_000], ["300", 300_000], [1.5, 1500], ["0.2", 200], [0, 0], ["0", 0], ["0s", 0],
      ["30s", 30_000], ["10m", 600_000], ["1h", 3_600_000], ["1h30m", 5_400_000], ["2m30s", 150_000], ["250ms", 250], [" 10m ", 600_000],
      [-1, -1], [-300, -1], ["-1", -1], ["-5m", -1],
    ];
    for (const [input, ms] of cases) assert.equal(parseKeepAlive(input), ms, JSON.stringify(input));
    for (const bad of ["soon", "10x", "1h30", "m", "", " ", "10 m", Infinity, NaN]) assert.throws(() => parseKeepAlive(bad), /keep_alive/, JSON.stringify(bad));
  });

  it("--keep-alive, NIMBLE_KEEP_ALIVE and a model's keepAlive reach the configuration", () => {
    assert.equal(resolveConfig({ keepAlive: "1h30m" }, {}).keepAlive, "1h30m");
    assert.equal(resolveConfig({}, { NIMBLE_KEEP_ALIVE: "10m" }).keepAlive, "10m");
    assert.equal(resolveConfig({}, {}).keepAlive, "-1");
  });
});

describe("model lifetimes on a real server", () => {
  let server: NimbleServer;
  let url: string;
  before(async () => {
    const path = await tinyModelPath();
    const small = (await estimateModelMemory(path, { contextSize: 512, sequences: 2, batchSize: 512 })).totalBytes;
    const big = (await estimateModelMemory(path, { contextSize: 4096, sequences: 16, batchSize: 512 })).totalBytes;
    const budget = Math.floor(small * 3.5);
    assert.ok(big > budget, `the big model must not fit: ${big} vs ${budget}`);
    server = await createServer({
      port: 0, home: tempDir(), logLevel: "error", threads: 1, parallel: 2, ctxSize: 512, keepAlive: "10m", memoryBudget: budget,
      models: [
        { id: "keep", aliases: [], source: path, kind: "chat", preload: true },
        { id: "brief", aliases: [], source: path, kind: "chat", preload: false, keepAlive: "200ms" },
        { id: "once", aliases: [], source: path, kind: "chat", preload: false, keepAlive: 0 },
        { id: "big", aliases: [], source: path, kind: "chat", preload: false, ctxSize: 4096, parallel: 16 },
      ],
    });
    await server.ready;
    url = server.url;
  });
  after(() => server.close());

  const ask = (model: string, extra: object = {}) => postJson(`${url}/v1/completions`, { model, prompt: "hi", max_tokens: 2, ...extra });
  async function states(): Promise<Record<string, string>> {
    const { data } = (await (await fetch(`${url}/v1/admin/models`)).json()) as any;
    return Object.fromEntries(data.map((m: any) => [m.id, m.state]));
  }
  const unloaded = (id: string) => waitFor(async () => (await states())[id] === "unloaded");

  it("a model's keepAlive ('200ms') unloads it once idle that long, while --keep-alive '10m' keeps another", async () => {
    assert.equal((await ask("keep")).status, 200);
    assert.equal((await ask("brief")).status, 200);
    await unloaded("brief");
    assert.equal((await states()).keep, "loaded");
  });

  it("keepAlive 0 unloads as soon as idle; a request's keep_alive overrides it ('1h30m', negative), '0' unloads again", async () => {
    assert.equal((await ask("once")).status, 200);
    await unloaded("once");
    for (const keepAlive of ["1h30m", -5, "-1m"]) {
      assert.equal((await ask("once", { keep_alive: keepAlive })).status, 200);
      // brief (200 ms) loads and unloads again meanwhile: once has outlived a keep-alive of 200 ms.
      assert.equal((await ask("brief")).status, 200);
      await unloaded("brief");
      assert.equal((await states()).once, "loaded", `keep_alive ${keepAlive}`);
    }
    assert.equal((await ask("once", { keep_alive: "0" })).status, 200);
    await unloaded("once");
  });

  it("a request's keep_alive in seconds (a number) replaces the server's '10m'", async () => {
    assert.equal((await ask("keep", { keep_alive: 0.2 })).status, 200);
    await unloaded("keep");
    const bad = await ask("keep", { keep_alive: "" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "keep_alive");
  });

  it("refuses a model larger than the memory budget with 503 memory_budget_exceeded", async () => {
    const res = await ask("big");
    assert.equal(res.status, 503, JSON.stringify(res.json));
    assert.equal(res.json.error.code, "memory_budget_exceeded");
    assert.equal(res.json.error.param, "model");
    assert.match(res.json.error.message, /memory budget/);
    assert.equal(res.headers.get("retry-after"), "5");
    assert.equal((await ask("keep")).status, 200, "the others still serve");
  });

  it("an admin unload waits for the requests running on the model, which finish whole", async () => {
    assert.equal((await ask("keep")).status, 200);
    const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "keep", prompt: "hi", max_tokens: 300, ignore_eos: true, stream: true, stream_options: { include_usage: true } }) });
    const order: string[] = [];
    const stream = readSse(res).then((events) => { order.push("stream ended"); return events; });
    await waitFor(async () => ((await (await fetch(`${url}/v1/admin/models`)).json()) as any).data.find((m: any) => m.id === "keep").requests === 1);
    const unload = postJson(`${url}/v1/admin/models/keep/unload`, {}).then((r) => { order.push("unloaded"); return r; });
    const [events, done] = await Promise.all([stream, unload]);
    assert.deepEqual(order, ["stream ended", "unloaded"]);
    assert.equal(done.json.state, "unloaded");
    assert.equal(events.at(-1), "[DONE]");
    assert.equal(events.at(-2).usage.completion_tokens, 300);
    assert.equal(events.filter((e: any) => e !== "[DONE]" && e.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "length");
  });
});
