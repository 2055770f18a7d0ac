/**
 * The setup assistant against a REAL Nimble server (tiny chat model, generated embedding model,
 * an admin key): a scripted OpenAI-compatible model (the only mock) sends tool calls, and the tests
 * assert the real effects — a model pulled from a local HTTP server and loaded, a searchable
 * document store, a working key, a nimble.yaml `nimble serve --config` starts from — and that a
 * refused confirmation or a malformed tool call changes nothing; then the wizard from scripted
 * stdin answers (the tiny model is too small to drive it) and `--undo`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runAssistant, undoAssistant } from "../src/assistant/index.js";
import type { Io } from "../src/assistant/execute.js";
import { ActionLog } from "../src/assistant/log.js";
import { resolveConfig } from "../src/config.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));
const ADMIN = "admin-secret";

type Step = { calls: { name: string; arguments: string }[] } | { content: string };

/** An OpenAI-compatible chat server answering a fixed script, recording what it was sent. */
class ScriptedModel {
  readonly requests: any[] = [];
  private script: Step[] = [];
  server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        this.requests.push(JSON.parse(body));
        const step = this.script.shift() ?? { content: "Done." };
        const message = "calls" in step
          ? { role: "assistant", content: null, tool_calls: step.calls.map((c, i) => ({ id: `call_${this.requests.length}_${i}`, type: "function", function: c })) }
          : { role: "assistant", content: step.content };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "x", object: "chat.completion", created: 0, model: "scripted", choices: [{ index: 0, message, finish_reason: "calls" in step ? "tool_calls" : "stop" }] }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  play(script: Step[]): void {
    this.script = [...script];
    this.requests.length = 0;
  }
}

/** Answers from a list; records everything said and asked. */
function scriptedIo(answers: string[]): Io & { lines: string[]; asked: string[] } {
  const lines: string[] = [];
  const asked: string[] = [];
  return {
    lines,
    asked,
    say: (t) => lines.push(t),
    ask: async (q) => {
      asked.push(q);
      const a = answers.shift();
      lines.push(`${q}${a ?? ""}`);
      return a;
    },
  };
}

const call = (name: string, args: unknown) => ({ name, arguments: typeof args === "string" ? args : JSON.stringify(args) });

async function status(url: string, key: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.body ? { "content-type": "application/json" } : {}) } });
  await res.text();
  return res.status;
}

function cli(args: string[], stdin: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env } });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on("close", (s) => resolve({ status: s, stdout, stderr })));
}

describe("nimble assistant", () => {
  const model = new ScriptedModel();
  let files: Server;
  let modelUrl = "";
  let fileRequests = 0;
  let nimble: NimbleServer;
  let home: string;
  let docs: string;
  let embeddingPath: string;
  const work = tempDir("nimble-assistant-");

  before(async () => {
    const picked = join(work, "picked.gguf");
    await generateModel(picked, { shape: PRESETS.tiny, seed: 7 });
    embeddingPath = join(work, "embed.gguf");
    await generateModel(embeddingPath, { shape: PRESETS.embedding, seed: 3 });
    files = createHttpServer((req, res) => {
      fileRequests++;
      if (req.url !== "/picked.gguf") return void res.writeHead(404).end();
      const body = readFileSync(picked);
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    modelUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/picked.gguf`;
    docs = join(work, "manuals");
    mkdirSync(docs);
    writeFileSync(join(docs, "router.md"), "# Router X200\n\nTo reset the router X200, hold the reset button for ten seconds until the light blinks amber.\n");
    writeFileSync(join(docs, "warranty.txt"), "The warranty covers hardware faults for two years from the date of purchase.\n");
    home = tempDir();
    nimble = await startTinyServer({ home, threads: 1, apiKey: [ADMIN], embeddingModel: embeddingPath, models: [{ id: "picked", source: modelUrl, aliases: [], kind: "chat", preload: false }] });
    await model.start();
  });

  after(async () => {
    await nimble.close();
    files.close();
    model.server.close();
  });

  it("sets up a model, a document store, a key and nimble.yaml from the model's tool calls, each confirmed", async () => {
    const config = join(work, "nimble.yaml");
    model.play([
      { calls: [call("inspect_machine", {}), call("recommend_models", { commercial: true })] },
      { calls: [call("pull_model", { model: modelUrl })] },
      { calls: [call("load_model", { model: modelUrl })] },
      { calls: [call("create_document_store", { name: "manuals", folder: docs })] },
      { calls: [call("create_api_key", { name: "support-app", scope: "inference", rpm: 60 })] },
      { calls: [call("write_config", { path: config, model: modelUrl, served_model_name: "support", embedding_model: embeddingPath, parallel: 2 })] },
      { content: "Done: the model is loaded, the manuals are searchable, the key support-app is made and nimble.yaml is written." },
    ]);
    const io = scriptedIo(["y", "y", "y", "y", "y", ""]);
    const { mode } = await runAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home, io, assistantUrl: model.url, assistantModel: "scripted", goal: "A support assistant over our manuals on this laptop, for one app." });
    assert.equal(mode, "agent");
    if (process.env.ASSISTANT_TRANSCRIPT) writeFileSync(process.env.ASSISTANT_TRANSCRIPT, `${io.lines.join("\n")}\n`);
    assert.equal(io.asked.filter((q) => q.startsWith("Proceed")).length, 5, "one confirmation per change");
    assert.deepEqual(model.requests[0].tools.map((t: any) => t.function.name), ["inspect_machine", "recommend_models", "pull_model", "load_model", "create_document_store", "create_api_key", "write_config"]);

    // The model came from the local HTTP server and is loaded.
    assert.ok(fileRequests >= 1);
    const admin = await (await fetch(`${nimble.url}/v1/admin/models`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    assert.equal(admin.data.find((m: any) => m.id === "picked").state, "loaded");

    // The store holds both documents and finds the reset instructions.
    const stores = await (await fetch(`${nimble.url}/v1/vector_stores`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    const store = stores.data.find((s: any) => s.name === "manuals");
    assert.equal(store.file_counts.completed, 2);
    const search = await (await fetch(`${nimble.url}/v1/vector_stores/${store.id}/search`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ query: "reset the router" }) })).json();
    assert.ok(search.data.length > 0);
    assert.ok(search.data.some((r: any) => r.filename === "router.md"));

    // The key printed once works for inference and not for admin routes.
    const key = /shown once, store it now\): (nmb-\S+)/.exec(io.lines.join("\n"))?.[1];
    assert.ok(key);
    assert.equal(await status(`${nimble.url}/v1/models`, key), 200);
    assert.equal(await status(`${nimble.url}/v1/admin/models`, key), 403);
    assert.equal(await status(`${nimble.url}/v1/admin/keys`, key, { method: "POST", body: JSON.stringify({ name: "escalate", scope: "admin" }) }), 403, "an inference key cannot make keys");
    assert.ok(!readFileSync(new ActionLog(home).path, "utf8").includes(key), "the action log never holds the key");

    // nimble.yaml: the config loader accepts it, and a fresh `nimble serve --config` starts from it.
    const loaded = resolveConfig({}, {}, config);
    assert.equal(loaded.model, modelUrl);
    assert.equal(loaded.parallel, 2);
    const serve = spawn(process.execPath, [CLI, "serve", "--config", config, "--home", home, "--port", "0", "--threads", "1", "--log-level", "error"], { env: { ...process.env } });
    let out = "";
    serve.stdout.on("data", (d) => (out += d));
    const listening = await new Promise<boolean>((resolve) => {
      serve.stdout.on("data", () => /listening\s+http/.test(out) && resolve(true));
      serve.on("close", () => resolve(false));
    });
    serve.kill("SIGTERM");
    assert.ok(listening, out);
    assert.match(out, /served as\s+"support"/);

    assert.equal(new ActionLog(home).undoable().length, 4, "load, store, key and config can be undone");
  });

  it("a refused confirmation changes nothing and the model is told", async () => {
    model.play([{ calls: [call("create_api_key", { name: "refused-key" })] }, { content: "OK, no key." }]);
    const io = scriptedIo(["n", ""]);
    const before = readFileSync(new ActionLog(home).path, "utf8");
    await runAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home, io, assistantUrl: model.url, assistantModel: "scripted", goal: "make a key" });
    const keys = await (await fetch(`${nimble.url}/v1/admin/keys`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    assert.ok(!keys.data.some((k: any) => k.name === "refused-key"));
    const told = model.requests[1].messages.at(-1);
    assert.equal(told.role, "tool");
    assert.equal(JSON.parse(told.content).status, "refused");
    assert.equal(readFileSync(new ActionLog(home).path, "utf8"), before, "nothing logged");
  });

  it("a malformed or unknown tool call gets a correction and no action", async () => {
    model.play([
      { calls: [call("create_api_key", { name: "bad name!", scope: "root" }), call("delete_everything", {}), call("write_config", "{not json")] },
      { content: "Sorry." },
    ]);
    const io = scriptedIo([""]);
    await runAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home, io, assistantUrl: model.url, assistantModel: "scripted", goal: "go" });
    assert.ok(!io.asked.some((q) => q.startsWith("Proceed")), "nothing was even proposed");
    const results = model.requests[1].messages.filter((m: any) => m.role === "tool").map((m: any) => JSON.parse(m.content));
    assert.equal(results.length, 3);
    assert.ok(results.every((r: any) => r.status === "invalid"));
    assert.match(results[0].message, /name: .*scope: /s);
    assert.match(results[1].message, /Unknown tool "delete_everything"/);
    assert.match(results[2].message, /not valid JSON/);
    const keys = await (await fetch(`${nimble.url}/v1/admin/keys`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    assert.deepEqual(keys.data.map((k: any) => k.name), ["support-app"]);
  });

  it("the wizard (the served tiny model cannot drive it) completes the setup from stdin answers, and --undo reverses it", async () => {
    const wizardHome = tempDir();
    const config = join(work, "wizard.yaml");
    const answers = [modelUrl, "y", "y", docs, "wizard-docs", "y", "wizard-app", "y", config, "y"].join("\n");
    const run = await cli(["assistant", "--url", nimble.url, "--admin-key", ADMIN, "--home", wizardHome], `${answers}\n`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /No capable assistant model: tiny is too small/);
    assert.match(run.stdout, /Setup finished/);
    const key = /shown once, store it now\): (nmb-\S+)/.exec(run.stdout)?.[1];
    assert.ok(key);
    assert.equal(await status(`${nimble.url}/v1/models`, key), 200);
    assert.equal(resolveConfig({}, {}, config).model, modelUrl);
    const stores = await (await fetch(`${nimble.url}/v1/vector_stores`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    const store = stores.data.find((s: any) => s.name === "wizard-docs");
    assert.equal(store.file_counts.completed, 2);

    const io = scriptedIo([]);
    const undone = await undoAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home: wizardHome, io, yes: true });
    assert.equal(undone, 4, io.lines.join("\n"));
    assert.equal(await status(`${nimble.url}/v1/models`, key), 401, "the key is revoked");
    assert.equal(await status(`${nimble.url}/v1/vector_stores/${store.id}`, ADMIN), 404, "the store is removed");
    assert.ok(!existsSync(config), "the written file is removed");
    const admin = await (await fetch(`${nimble.url}/v1/admin/models`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    assert.equal(admin.data.find((m: any) => m.id === "picked").state, "unloaded");
    assert.equal(new ActionLog(wizardHome).undoable().length, 0);
  });
});

describe("the model catalog", () => {
  it("recommends what fits the memory, largest first, and honours the licence filter", async () => {
    const { recommend, CATALOG } = await import("../src/assistant/catalog.js");
    assert.ok(CATALOG.length >= 8 && CATALOG.every((m) => /^hf:[^/]+\/[^/:]+(:|\/)/.test(m.ref)));
    const small = recommend({ memoryBytes: 4e9 });
    assert.ok(small.length > 0 && small.every((m) => m.kind === "chat" && m.fileBytes < 3e9));
    assert.ok(small.every((m, i) => i === 0 || small[i - 1]!.fileBytes >= m.fileBytes));
    assert.ok(recommend({ memoryBytes: 64e9 }).some((m) => m.id === "qwen2.5-3b-instruct"));
    assert.ok(!recommend({ memoryBytes: 64e9, commercial: true }).some((m) => m.id === "qwen2.5-3b-instruct"));
    assert.deepEqual(recommend({ memoryBytes: 1e8 }), []);
  });

  it("the CLI says in one line when the server cannot be reached", async () => {
    const closed = createHttpServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const run = await cli(["assistant", "--url", url, "--wizard", "--home", tempDir()], "");
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `nimble: cannot reach Nimble at ${url}: ECONNREFUSED\n`);
  });
});
