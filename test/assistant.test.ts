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
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import * as apps from "kubernetes-models/apps/v1";
import * as core from "kubernetes-models/v1";
import { runAgent, type Message } from "../src/assistant/agent.js";
import { NimbleClient } from "../src/assistant/client.js";
import { runAssistant, undoAssistant } from "../src/assistant/index.js";
import type { Io, Session } from "../src/assistant/execute.js";
import { parseGuardrails } from "../src/guardrails/config.js";
import { ActionLog } from "../src/assistant/log.js";
import { resolveConfig } from "../src/config.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";
import { call, ScriptedModel } from "./scripted-chat-model.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));
const ADMIN = "admin-secret";

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

const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
const hasKubectl = kubectl.status === 0 && /Kustomize Version/.test(kubectl.stdout);

/** The tool results the model was sent back in its last request. */
const toolResults = (request: any): any[] => request.messages.filter((m: any) => m.role === "tool").map((m: any) => JSON.parse(m.content));


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
    nimble = await startTinyServer({ home, threads: 1, ctxSize: 16384, apiKey: [ADMIN], embeddingModel: embeddingPath, models: [{ id: "picked", source: modelUrl, aliases: [], kind: "chat", preload: false }] });
    await model.start();
  });

  after(async () => {
    await nimble.close();
    files.close();
    await model.close();
  });

  it("sets up a model, a document store, guardrails, a key, a benchmark, nimble.yaml and the Kubernetes configuration from the model's tool calls, each confirmed", async () => {
    const config = join(work, "nimble.yaml");
    const guardrails = join(work, "support-guardrails.yaml");
    const kubernetes = join(work, "support-kubernetes");
    model.play([
      { calls: [call("inspect_machine", {}), call("recommend_models", { commercial: true })] },
      { calls: [call("pull_model", { model: modelUrl })] },
      { calls: [call("load_model", { model: modelUrl })] },
      { calls: [call("create_document_store", { name: "manuals", folder: docs })] },
      { calls: [call("write_guardrails", { path: guardrails, personal_data: "mask", injections: "block" })] },
      { calls: [call("create_api_key", { name: "support-app", scope: "inference", rpm: 60 })] },
      { calls: [call("run_benchmark", { model: "picked", concurrency: 2, requests: 4, prompt_tokens: 16, max_tokens: 8 })] },
      { calls: [call("write_config", { path: config, model: modelUrl, served_model_name: "support", embedding_model: embeddingPath, parallel: 2, guardrails })] },
      { calls: [call("write_kubernetes", { dir: kubernetes, model: modelUrl, served_model_name: "support", parallel: 2, guardrails })] },
      { content: "Done: the model is loaded, the manuals are searchable, personal data is masked, the key support-app is made, and nimble.yaml and the Kubernetes configuration are written." },
    ]);
    const io = scriptedIo(["y", "y", "y", "y", "y", "y", "y", "y", ""]);
    const { mode } = await runAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home, io, assistantUrl: model.url, assistantModel: "scripted", goal: "A support assistant over our manuals on this laptop, for one app." });
    assert.equal(mode, "agent");
    if (process.env.ASSISTANT_TRANSCRIPT) writeFileSync(process.env.ASSISTANT_TRANSCRIPT, `${io.lines.join("\n")}\n`);
    assert.equal(io.asked.filter((q) => q.startsWith("Proceed")).length, 8, "one confirmation per change");
    const results = toolResults(model.requests.at(-1));
    assert.ok(results.every((r) => r.status === "done"), JSON.stringify(results.filter((r) => r.status !== "done")));
    assert.deepEqual(model.requests[0].tools.map((t: any) => t.function.name), ["inspect_machine", "recommend_models", "pull_model", "load_model", "create_document_store", "create_api_key", "write_guardrails", "run_benchmark", "write_config", "write_kubernetes"]);
    assert.equal(model.requests[0].tool_choice, "auto", "a remote model is not forced");

    // The model came from the local HTTP server and is loaded.
    assert.ok(fileRequests >= 1);
    const admin = await (await fetch(`${nimble.url}/v1/admin/models`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    assert.equal(admin.data.find((m: any) => m.id === "picked").state, "loaded");
    // …and the load shows the serving profile this machine fits, with its reason.
    assert.match(io.lines.join("\n"), /loaded picked \(.*\); serving profile [\w-]+: chosen: /);

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

    // The benchmark's numbers come from a real run on the model just loaded.
    const bench = results.find((r) => r.result?.ttft_ms)!.result;
    assert.equal(bench.model, "picked");
    assert.equal(bench.requests, 4);
    assert.equal(bench.errors, 0);
    assert.ok(bench.output_tokens > 0);
    assert.ok(Number.isFinite(bench.ttft_ms.p50) && bench.ttft_ms.p50 > 0, JSON.stringify(bench));
    assert.ok(bench.tokens_per_second_total > 0);
    assert.match(results.find((r) => r.result?.ttft_ms)!.summary, /with 2 simultaneous users: first token after \d+ ms/);
    // The guardrails are in force and in nimble.yaml; the Kubernetes folder is there (rendered in its own test).
    assert.equal(loaded.guardrails, guardrails);
    assert.ok(existsSync(join(kubernetes, "kustomization.yaml")) && existsSync(join(kubernetes, "base", "nimble-statefulset.yaml")));

    assert.equal(new ActionLog(home).undoable().length, 6, "load, store, guardrails, key, config and the Kubernetes folder can be undone");
    // The next tests start from a server without guardrails.
    assert.equal(await status(`${nimble.url}/v1/admin/guardrails`, ADMIN, { method: "PUT", body: JSON.stringify({ yaml: null }) }), 200);
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

  it("writes guardrails from the user's policy, applies them to the running server and tests them; --undo takes them off", async () => {
    const gHome = tempDir();
    const path = join(work, "guardrails.yaml");
    model.play([
      { calls: [call("write_guardrails", { path, personal_data: "mask", injections: "block", refusal: "I can only help with our products." })] },
      { content: "Personal data is masked and injections are blocked." },
    ]);
    const io = scriptedIo(["y", ""]);
    await runAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home: gHome, io, assistantUrl: model.url, assistantModel: "scripted", goal: "Mask personal data and block prompt injections." });
    const [outcome] = toolResults(model.requests[1]);
    assert.equal(outcome.status, "done", JSON.stringify(outcome));
    // The tool's own test, reported back: the email masked, the injection blocked.
    const [pii, injection] = outcome.result.checks;
    assert.equal(pii.status, "success");
    assert.match(pii.masked, /\[EMAIL\]/);
    assert.ok(!pii.masked.includes("jane.doe@example.com"));
    assert.equal(injection.status, "blocked");
    assert.deepEqual(injection.fired, [{ rail: "injections", status: "blocked" }]);
    assert.match(io.lines.join("\n"), /test "Hi, I'm Jane.*masked to ".*\[EMAIL\]/);

    // The real effect: the running server now masks an email in any check (its new default configuration)…
    const check = async (content: string) => (await fetch(`${nimble.url}/v1/guardrail/checks`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content }] }) }));
    const masked = await (await check("Contact me at bob@example.org please")).json();
    assert.equal(masked.status, "success");
    assert.equal(masked.messages[0].content, "Contact me at [EMAIL] please");
    assert.equal(masked.rails_status.personal_data.status, "masked");
    // …and a chat completion's input is masked before the model sees it (guardrails_data says so).
    const chat = await (await fetch(`${nimble.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", max_tokens: 2, messages: [{ role: "user", content: "I am bob@example.org" }] }) })).json();
    assert.ok(chat.guardrails_data.activated_rails.some((r: any) => r.name === "personal_data"), JSON.stringify(chat.guardrails_data));
    // The file is a valid guardrails file that `nimble serve --guardrails` would load.
    const file = parseGuardrails(readFileSync(path, "utf8"), path);
    assert.equal(file.default, "default");
    assert.equal(file.configs.get("default")!.refusal, "I can only help with our products.");

    // A bad file is refused with its line, and the rails in force stay.
    const bad = await fetch(`${nimble.url}/v1/admin/guardrails`, { method: "PUT", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ yaml: "configs:\n  x:\n    rails:\n      - {kind: pii, type: input, action: explode}\n" }) });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /guardrails:4:\d+ .*Invalid enum value/);
    assert.equal((await (await check("bob@example.org")).json()).messages[0].content, "[EMAIL]");

    assert.equal(await undoAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home: gHome, io: scriptedIo([]), yes: true }), 1);
    assert.equal((await check("Contact me at bob@example.org please")).status, 400, "no guardrails configuration any more");
    assert.ok(!existsSync(path));
  });

  it("writes the Kubernetes configuration next to nimble.yaml: it renders with kubectl kustomize and carries the model and settings", { skip: hasKubectl ? false : "kubectl (with kustomize) is not installed" }, async () => {
    const dir = join(work, "kubernetes");
    const guardrails = join(work, "k8s-guardrails.yaml");
    writeFileSync(guardrails, "configs:\n  default:\n    rails:\n      - {kind: pii, type: input, action: mask}\n");
    const ref = "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M";
    model.play([{ calls: [call("write_kubernetes", { dir, model: ref, served_model_name: "support", parallel: 8, ctx_size: 8192, guardrails })] }, { content: "Written." }]);
    await runAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home, io: scriptedIo(["y", ""]), assistantUrl: model.url, assistantModel: "scripted", goal: "And for our cluster?" });
    assert.equal(toolResults(model.requests[1])[0].status, "done");
    const r = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean);
    assert.ok(objs.length >= 12);
    assert.ok(objs.every((o) => o.kind === "Namespace" || o.metadata.namespace === "nimble"));
    const sts = objs.find((o) => o.kind === "StatefulSet");
    new apps.StatefulSet(sts).validate();
    const c = sts.spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));
    assert.equal(env.NIMBLE_MODEL, ref);
    assert.equal(env.NIMBLE_SERVED_MODEL_NAME, "support");
    assert.equal(env.NIMBLE_PARALLEL, "8");
    assert.equal(env.NIMBLE_CTX_SIZE, "8192");
    assert.equal(env.NIMBLE_GPU, "cpu");
    assert.equal(c.image, "ghcr.io/your-org/nimble:cpu");
    assert.ok(c.env.some((e: any) => e.name === "NIMBLE_API_KEYS" && e.valueFrom), "the base's settings are kept");
    // The guardrails file is a ConfigMap mounted where NIMBLE_GUARDRAILS points.
    const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("nimble-guardrails"));
    new core.ConfigMap(cm).validate();
    parseGuardrails(cm.data["guardrails.yaml"]);
    const volume = sts.spec.template.spec.volumes.find((v: any) => v.name === "guardrails");
    assert.equal(volume.configMap.name, cm.metadata.name);
    const mount = c.volumeMounts.find((m: any) => m.name === "guardrails");
    assert.equal(env.NIMBLE_GUARDRAILS, `${mount.mountPath}/guardrails.yaml`);
  });

  it("driven by Nimble's own model, every answer is a grammar-constrained tool call (respond for plain text)", async () => {
    const io = scriptedIo([""]);
    const session: Session = { client: new NimbleClient(nimble.url, ADMIN), say: (l) => io.say(l), io, log: new ActionLog(tempDir()), yes: false };
    model.play([{ calls: [call("respond", { message: "Which documents should it answer from?" })] }]);
    await runAgent(session, { url: model.url, model: "scripted", constrained: true }, { goal: "hello" });
    const sent = model.requests[0];
    assert.equal(sent.tool_choice, "required");
    assert.equal(sent.parallel_tool_calls, false);
    assert.ok(sent.tools.some((t: any) => t.function.name === "respond"));
    assert.ok(sent.tools.filter((t: any) => t.function.name !== "respond").every((t: any) => t.function.strict === true));
    assert.ok(io.lines.includes("Assistant: Which documents should it answer from?"));
    assert.deepEqual(io.asked, ["> "], "a respond call waits for the user");
  });

  it("the served (random-weight) tiny model, forced through Nimble's grammar, sends a call that parses and matches a tool's schema", async () => {
    const io = scriptedIo(["n", "n", "n"]);
    const session: Session = { client: new NimbleClient(nimble.url, ADMIN), say: (l) => io.say(l), io, log: new ActionLog(tempDir()), yes: false };
    const { messages } = await runAgent(session, { url: nimble.url, model: "tiny", apiKey: ADMIN, constrained: true }, { goal: "Set up a support assistant.", maxSteps: 1 });
    const reply = messages.find((m: Message) => m.role === "assistant")!;
    assert.ok((reply.tool_calls ?? []).length >= 1, JSON.stringify(reply));
    const results = messages.filter((m: Message) => m.role === "tool").map((m: Message) => JSON.parse(m.content!));
    assert.ok(results.length >= 1);
    for (const r of results) assert.notEqual(r.status, "invalid", JSON.stringify(r));
  });

  it("the wizard (the served tiny model cannot drive it) completes the setup from stdin answers, and --undo reverses it", async () => {
    const wizardHome = tempDir();
    const config = join(work, "wizard.yaml");
    const guardrails = join(work, "wizard-guardrails.yaml");
    const answers = [modelUrl, "y", "y", docs, "wizard-docs", "y", "wizard-app", "y", guardrails, "y", "", config, "y"].join("\n");
    const run = await cli(["assistant", "--url", nimble.url, "--admin-key", ADMIN, "--home", wizardHome], `${answers}\n`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /No capable assistant model: tiny is too small/);
    assert.match(run.stdout, /Setup finished/);
    const key = /shown once, store it now\): (nmb-\S+)/.exec(run.stdout)?.[1];
    assert.ok(key);
    assert.equal(await status(`${nimble.url}/v1/models`, key), 200);
    assert.equal(resolveConfig({}, {}, config).model, modelUrl);
    assert.equal(resolveConfig({}, {}, config).guardrails, guardrails, "nimble.yaml loads the guardrails written");
    assert.match(run.stdout, /test "Hi, I'm Jane.*masked to/);
    const stores = await (await fetch(`${nimble.url}/v1/vector_stores`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    const store = stores.data.find((s: any) => s.name === "wizard-docs");
    assert.equal(store.file_counts.completed, 2);

    const io = scriptedIo([]);
    const undone = await undoAssistant({ serverUrl: nimble.url, adminKey: ADMIN, home: wizardHome, io, yes: true });
    assert.equal(undone, 5, io.lines.join("\n"));
    assert.ok(!existsSync(guardrails), "the guardrails file is removed");
    assert.deepEqual((await (await fetch(`${nimble.url}/v1/guardrail/configs`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()).data, [], "and the server's guardrails are off again");
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
