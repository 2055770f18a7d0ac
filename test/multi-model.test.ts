/**
 * Several models in one server: three generated models and a memory budget for two. Models load
 * on first request (requests during the load wait and succeed), the least recently used idle one
 * is unloaded to make room and reloaded on demand, aliases and keep_alive work, /v1/models shows states.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { estimateModelMemory } from "../src/models/memory.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { metricValue, postJson, readSse, tempDir } from "./helpers.js";
import { createServer as createHttpServer } from "node:http";
import { readFileSync } from "node:fs";

const dir = tempDir("nimble-multi-");
let server: NimbleServer;

async function states(): Promise<Record<string, string>> {
  const { data } = await (await fetch(`${server.url}/v1/models`)).json();
  return Object.fromEntries(data.map((m: any) => [m.id, m.nimble.state]));
}

const ask = (model: string, extra: object = {}) => postJson(`${server.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }], max_tokens: 4, ...extra });

before(async () => {
  for (const [i, name] of ["a", "b", "c"].entries()) await generateModel(join(dir, `${name}.gguf`), { shape: PRESETS.tiny, seed: 10 + i });
  const each = (await estimateModelMemory(join(dir, "a.gguf"), { contextSize: 512, sequences: 2, batchSize: 512 })).totalBytes;
  server = await createServer({
    port: 0,
    home: dir,
    logLevel: "error",
    parallel: 2,
    ctxSize: 512,
    memoryBudget: Math.floor(each * 2.5),
    models: ["a", "b", "c"].map((id) => ({ id, aliases: id === "a" ? ["default"] : [], source: join(dir, `${id}.gguf`), kind: "chat" as const, preload: false })),
  });
  await server.ready;
});
after(() => server.close());

describe("many models in one server", () => {
  it("loads the default model at start and lists every model with its state", async () => {
    assert.deepEqual(await states(), { a: "loaded", b: "unloaded", c: "unloaded" });
    const { data } = await (await fetch(`${server.url}/v1/models`)).json();
    const a = data.find((m: any) => m.id === "a");
    assert.deepEqual(a.nimble.aliases, ["default"]);
    assert.ok(a.nimble.memory_bytes > 0);
    assert.equal(data.find((m: any) => m.id === "b").max_model_len, null);
  });

  it("loads on demand and unloads the least recently used idle model to stay within the budget", async () => {
    assert.equal((await ask("b")).status, 200);
    assert.deepEqual(await states(), { a: "loaded", b: "loaded", c: "unloaded" });
    assert.equal((await ask("a")).status, 200); // a is now more recent than b
    assert.equal((await ask("c")).status, 200);
    assert.deepEqual(await states(), { a: "loaded", b: "unloaded", c: "loaded" });
  });

  it("requests that arrive while their model loads wait for it and succeed", async () => {
    const results = await Promise.all([ask("b"), ask("b", { stream: true }), ask("b"), ask("a")]);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(results[0]!.json.model, "b");
    assert.deepEqual(await states(), { a: "loaded", b: "loaded", c: "unloaded" });
    const metrics = await (await fetch(`${server.url}/v1/metrics`)).text();
    assert.equal(metricValue(metrics.split("\n").filter((l) => !l.includes('model_name="a"')).join("\n"), "num_requests_running"), 0, "gauges per loaded model");
    assert.match(metrics, /request_success_total\{model_name="b"\} [1-9]/);
  });

  it("answers to aliases, and keep_alive 0 unloads the model as soon as it is idle", async () => {
    const viaAlias = await ask("default");
    assert.equal(viaAlias.status, 200);
    assert.equal(viaAlias.json.model, "a");
    assert.equal((await ask("b", { keep_alive: 0 })).status, 200);
    for (let i = 0; i < 50 && (await states()).b !== "unloaded"; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await states()).b, "unloaded");
    const bad = await ask("a", { keep_alive: "soon" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "keep_alive");
  });

  it("refuses a model of another kind on an endpoint, and unknown names", async () => {
    const wrong = await postJson(`${server.url}/v1/embeddings`, { model: "a", input: "x" });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error.code, "wrong_model_kind");
    assert.equal((await ask("zzz")).status, 404);
  });
});

describe("admin API", () => {
  it("lists the models with state and memory, and loads and unloads them by hand", async () => {
    const listed = await (await fetch(`${server.url}/v1/admin/models`)).json();
    assert.ok(listed.budget_bytes > 0);
    assert.deepEqual(listed.data.map((m: any) => m.id), ["a", "b", "c"]);
    assert.ok(listed.data.every((m: any) => typeof m.memory_bytes === "number" && "last_used" in m));
    const unloaded = await postJson(`${server.url}/v1/admin/models/a/unload`, {});
    assert.equal(unloaded.json.state, "unloaded");
    const loaded = await postJson(`${server.url}/v1/admin/models/c/load`, {});
    assert.equal(loaded.status, 200);
    assert.equal(loaded.json.state, "loaded");
    assert.equal((await states()).c, "loaded");
    assert.equal((await postJson(`${server.url}/v1/admin/models/zzz/load`, {})).status, 404);
  });

  it("reports a loaded model's serving profiles on this machine; 409 before it is loaded, 404 for an unknown id", async () => {
    await postJson(`${server.url}/v1/admin/models/c/load`, {});
    const res = await fetch(`${server.url}/v1/admin/models/c/profiles`);
    assert.equal(res.status, 200);
    const plan = await res.json();
    assert.equal(plan.model, "c");
    assert.ok(plan.profiles.length >= 2);
    const chosen = plan.profiles.find((p: any) => p.name === plan.chosen);
    assert.ok(chosen?.fits, JSON.stringify(plan));
    assert.match(plan.reason, /^chosen: /);
    assert.ok(plan.profiles.every((p: any) => typeof p.reason === "string" && p.ctx_size > 0 && p.parallel > 0));
    await postJson(`${server.url}/v1/admin/models/b/unload`, {});
    const notLoaded = await fetch(`${server.url}/v1/admin/models/b/profiles`);
    assert.equal(notLoaded.status, 409);
    assert.equal((await notLoaded.json()).error.code, "model_not_loaded");
    assert.equal((await fetch(`${server.url}/v1/admin/models/zzz/profiles`)).status, 404);
  });

  it("pulls a model into the store, streaming progress as SSE", async () => {
    const bytes = readFileSync(join(dir, "b.gguf"));
    const files = createHttpServer((req, res) => {
      if (req.url !== "/models/pulled.gguf") { res.writeHead(404).end(); return; }
      res.writeHead(200, { "content-length": bytes.length, "content-type": "application/octet-stream" });
      res.end(bytes);
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    try {
      const port = (files.address() as { port: number }).port;
      const pull = (model: string) => fetch(`${server.url}/v1/admin/pull`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model }) });
      const events = await readSse(await pull(`http://127.0.0.1:${port}/models/pulled.gguf`));
      assert.equal(events[0].status, "pulling");
      assert.ok(events.some((e) => e.status === "downloading" && e.completed === bytes.length && e.total === bytes.length), JSON.stringify(events));
      const done = events.find((e) => e.status === "success");
      assert.equal(done.downloaded, true);
      assert.ok(readFileSync(done.path).equals(bytes));
      assert.equal(events[events.length - 1], "[DONE]");
      const missing = await readSse(await pull(`http://127.0.0.1:${port}/models/nope.gguf`));
      assert.ok(missing.some((e) => e.error && typeof e.error.message === "string" && !/\n\s+at /.test(e.error.message)), JSON.stringify(missing));
      const bad = await postJson(`${server.url}/v1/admin/pull`, { model: "" });
      assert.equal(bad.status, 400);
    } finally {
      files.close();
    }
  });
});
