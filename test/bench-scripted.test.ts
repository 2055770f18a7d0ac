/**
 * `nimble bench` against a scripted OpenAI-compatible server (node:http) that streams tokens on a known
 * schedule: measured TTFT and ITL, load shapes, workloads, --compare, and every kind of bad input.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runBench, type BenchOptions } from "../src/bench/run.js";
import { benchOptions } from "../src/cli/commands/bench.js";
import { tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));

interface Scripted {
  url: string;
  /** Bodies of the streaming requests (not the non-streaming one that calibrates prompt sizes). */
  bodies: any[];
  peakInFlight: number;
  close: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Streams max_tokens tokens: the first after `firstMs`, then one every `everyMs`. The model name picks a
 * behaviour: "steady" (default), "flaky" (every 3rd request: HTTP 500), "malformed" (broken SSE JSON),
 * "nostream" (a plain JSON answer), "hang" (headers, then nothing), "drop" (socket closed mid-stream).
 * With `tokenize`, POST /tokenize answers in llama.cpp's shape, one token per word.
 */
async function scriptedServer(opts: { firstMs?: number; everyMs?: number; tokenize?: boolean } = {}): Promise<Scripted> {
  const firstMs = opts.firstMs ?? 50;
  const everyMs = opts.everyMs ?? 10;
  const state = { bodies: [] as any[], inFlight: 0, peak: 0, count: 0, perModel: new Map<string, number>() };
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    for await (const c of req) raw += c;
    const json = (status: number, body: unknown) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };
    if (req.method === "GET" && req.url === "/v1/models") return json(200, { object: "list", data: [{ id: "steady", object: "model" }] });
    if (req.method === "POST" && req.url === "/tokenize" && opts.tokenize) {
      const { content } = JSON.parse(raw);
      return json(200, { tokens: String(content).split(/\s+/).filter(Boolean).map((_, i) => i) });
    }
    const chat = req.url === "/v1/chat/completions";
    if (req.method !== "POST" || (!chat && req.url !== "/v1/completions")) return json(404, { error: { message: "not found" } });
    const body = JSON.parse(raw);
    const id = state.count++;
    state.bodies.push({ ...body, _id: id, _at: performance.now() });
    const mode = body.model;
    const nth = state.perModel.get(mode) ?? 0;
    state.perModel.set(mode, nth + 1);
    if (mode === "flaky" && nth % 3 === 2) return json(500, { error: { message: "scripted failure" } });
    if (mode === "nostream") return json(200, { choices: [{ message: { role: "assistant", content: "hi" } }] });
    state.inFlight++;
    state.peak = Math.max(state.peak, state.inFlight);
    res.on("close", () => state.inFlight--);
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (mode === "hang") return; // never a byte more
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    const n = body.max_tokens as number;
    await sleep(firstMs);
    for (let i = 0; i < n; i++) {
      if (i > 0) await sleep(everyMs);
      if (mode === "malformed" && i === 2) { res.write("data: {\"choices\": [oops\n\n"); }
      if (mode === "drop" && i === 2) { res.destroy(); return; }
      const piece = `r${id}t${i} `;
      send(chat ? { choices: [{ index: 0, delta: { content: piece } }] } : { choices: [{ index: 0, text: piece }] });
    }
    send({ choices: [], usage: { prompt_tokens: 10, completion_tokens: n } });
    res.end("data: [DONE]\n\n");
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get bodies() { return state.bodies.filter((b) => b.stream === true); },
    get peakInFlight() { return state.peak; },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  } as Scripted;
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "bench", ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function options(url: string, over: Omit<Partial<BenchOptions>, "workload"> & { workload?: Partial<BenchOptions["workload"]> } = {}): BenchOptions {
  const { workload, ...rest } = over;
  return {
    targets: [{ url }], endpoint: "chat", mode: "concurrency", levels: [1], requests: 3, warmup: 0, timeoutMs: 5000, temperature: 0, slo: {},
    command: "test", version: "test",
    ...rest,
    workload: { kind: "synthetic", seed: 1, inputTokens: 20, outputTokens: 5, ignoreEos: true, prefixTokens: 30, conversations: 2, turns: 2, ...workload },
  };
}

describe("nimble bench against a scripted server", () => {
  let s: Scripted;
  before(async () => { s = await scriptedServer(); });
  after(async () => { await s.close(); });

  it("measures TTFT and ITL of a known schedule, keeps exactly N in flight, writes results.json and an offline report.html", async () => {
    const out = tempDir("nimble-bench-");
    const r = await cli(["--url", `${s.url}/v1`, "--concurrency", "1,4", "--requests", "8", "--output-tokens", "12", "--input-tokens", "40",
      "--warmup", "1", "--slo-ttft-ms", "1000", "--out", out, "--no-progress"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| concurrency \|/);
    assert.match(r.stderr, /ESTIMATED/); // no /tokenize on this server
    assert.equal(s.peakInFlight, 4);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    assert.match(res.command, /^nimble bench --url .* --concurrency 1,4/);
    assert.equal(res.targets[0].server.models.data[0].id, "steady");
    assert.match(res.inputSizing, /estimate/);
    assert.deepEqual(res.levels.map((l: any) => l.value), [1, 4]);
    for (const level of res.levels) {
      const m = level.results[0];
      assert.equal(m.requests, 8);
      assert.equal(m.errors, 0);
      assert.ok(m.ttftMs.p50 >= 45 && m.ttftMs.p50 <= 120, `TTFT p50 ${m.ttftMs.p50}`);
      assert.ok(m.itlMs.p50 >= 8 && m.itlMs.p50 <= 25, `ITL p50 ${m.itlMs.p50}`);
      assert.equal(m.outputTokens, 8 * 12);
      assert.ok(m.outputTokensPerSecond > 0 && m.requestsPerSecond > 0);
      assert.equal(m.goodput.requests, 8);
      for (const k of ["mean", "p50", "p90", "p99"]) assert.equal(typeof m.e2eMs[k], "number");
    }
    const measured = s.bodies.filter((b) => b.max_tokens === 12);
    assert.equal(measured.length, 2 * (8 + 1));
    assert.ok(measured.every((b) => b.ignore_eos === true && b.stream === true && b.messages[0].role === "user"));
    assert.equal(new Set(measured.map((b) => b.messages[0].content)).size, measured.length, "every request has its own prompt");
    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.match(html, /<svg/);
    assert.doesNotMatch(html, /<script|<link|@import|url\(|(src|href)="http/i);
  });

  it("runs Poisson arrivals, the completions endpoint and reproducible prompts", async () => {
    const a = await runBench(options(s.url, { mode: "rate", levels: [40], requests: 6, endpoint: "completions" }));
    const b = await runBench(options(s.url, { mode: "rate", levels: [40], requests: 6, endpoint: "completions" }));
    assert.equal(a.load.mode, "rate");
    assert.equal(a.levels[0]!.results[0]!.ok, 6);
    const prompts = s.bodies.slice(-12).map((x) => x.prompt);
    assert.ok(prompts.every((p) => typeof p === "string" && p.length > 0));
    assert.deepEqual(prompts.slice(0, 6).sort(), prompts.slice(6).sort(), "same seed, same prompts");
    assert.equal(b.levels[0]!.results[0]!.errors, 0);
  });

  it("pauses before each server's measured run (--settle), never in the middle of one", async () => {
    const other = await scriptedServer();
    try {
      const before = s.bodies.length;
      const t0 = performance.now();
      const r = await runBench(options(s.url, { targets: [{ url: s.url, label: "a" }, { url: other.url, label: "b" }], requests: 3, warmup: 1, settleMs: 300 }));
      assert.equal(r.load.settleMs, 300);
      const measured = (srv: Scripted, from = 0) => srv.bodies.slice(from).filter((b) => b.max_tokens === 5);
      const [warmA, ...runA] = measured(s, before);
      const [warmB, ...runB] = measured(other);
      assert.equal(runA.length, 3);
      assert.equal(runB.length, 3);
      // The first measured request of each server comes 300 ms or more after whatever the client sent before it.
      assert.ok(warmA!._at >= t0);
      assert.ok(runA[0]!._at - warmA!._at >= 300, `a: ${runA[0]!._at - warmA!._at} ms`);
      assert.ok(warmB!._at >= runA.at(-1)!._at);
      assert.ok(runB[0]!._at - warmB!._at >= 300, `b: ${runB[0]!._at - warmB!._at} ms`);
      // Within a run, no pause: a closed loop of one sends the next request as soon as the previous ends.
      assert.ok(runA[1]!._at - runA[0]!._at < 300);
      const cliOptions = benchOptions({ url: s.url, endpoint: "chat", workload: "synthetic", outputTokens: 5, seed: 1, prefixTokens: 30, systemTokens: 0, conversations: 2, turns: 2, ignoreEos: true, warmup: 0, settle: 1.5, timeout: 5, temperature: 0, progress: false }, "test");
      assert.equal(cliOptions.settleMs, 1500);
    } finally {
      await other.close();
    }
  });

  it("runs a level for --duration seconds, then lets in-flight requests finish", async () => {
    const r = await runBench(options(s.url, { levels: [2], requests: undefined, durationS: 0.5 }));
    const m = r.levels[0]!.results[0]!;
    assert.ok(m.requests >= 4 && m.requests <= 20, `${m.requests} requests`);
    assert.equal(m.errors, 0);
    assert.ok(m.durationS >= 0.5 && m.durationS < 2, `${m.durationS} s`);
  });

  it("multi-turn re-sends the growing history with the previous answers", async () => {
    const before = s.bodies.length;
    const r = await runBench(options(s.url, { levels: [2], requests: undefined, workload: { kind: "multi-turn", conversations: 3, turns: 3 } }));
    assert.equal(r.levels[0]!.results[0]!.ok, 9);
    const sent = s.bodies.slice(before);
    assert.equal(sent.length, 9);
    const answers = new Map(sent.map((b) => [b._id, Array.from({ length: 5 }, (_, i) => `r${b._id}t${i} `).join("")]));
    const allAnswers = new Set(answers.values());
    for (const b of sent) {
      assert.equal(b.messages.length % 2, 1);
      assert.equal(b.messages.at(-1).role, "user");
      b.messages.forEach((m: any, i: number) => {
        if (i % 2 === 1) { assert.equal(m.role, "assistant"); assert.ok(allAnswers.has(m.content), `assistant turn is a real answer: ${m.content}`); }
      });
    }
    assert.deepEqual(sent.map((b) => b.messages.length).sort(), [1, 1, 1, 3, 3, 3, 5, 5, 5]);
  });

  it("multi-turn with --system-tokens opens every conversation with one shared system prompt", async () => {
    const before = s.bodies.length;
    const r = await runBench(options(s.url, { levels: [2], requests: undefined, workload: { kind: "multi-turn", conversations: 3, turns: 2, systemTokens: 25 } }));
    assert.equal(r.levels[0]!.results[0]!.ok, 6);
    const sent = s.bodies.slice(before);
    assert.ok(sent.every((b) => b.messages[0].role === "system"), "every request starts with the system prompt");
    assert.equal(new Set(sent.map((b) => b.messages[0].content)).size, 1, "one system prompt shared by all conversations");
    assert.ok(sent[0].messages[0].content.split(/\s+/).length >= 10, "sized to about 25 tokens");
    assert.equal(new Set(sent.filter((b) => b.messages.length === 2).map((b) => b.messages[1].content)).size, 3, "each conversation its own first turn");
    assert.deepEqual(sent.map((b) => b.messages.length).sort(), [2, 2, 2, 4, 4, 4]);
  });

  it("shared-prefix sends one system prompt and unique questions; dataset sends the file's prompts", async () => {
    const before = s.bodies.length;
    await runBench(options(s.url, { requests: 4, workload: { kind: "shared-prefix" } }));
    const sp = s.bodies.slice(before);
    assert.equal(new Set(sp.map((b) => b.messages[0].content)).size, 1);
    assert.equal(sp[0].messages[0].role, "system");
    assert.equal(new Set(sp.map((b) => b.messages[1].content)).size, 4);

    const file = join(tempDir(), "d.jsonl");
    writeFileSync(file, '{"prompt": "hello there"}\n\n{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "why?"}], "max_tokens": 3}\n');
    const mid = s.bodies.length;
    const r = await runBench(options(s.url, { requests: 2, workload: { kind: "dataset", datasetPath: file } }));
    const ds = s.bodies.slice(mid);
    assert.deepEqual(ds.map((b) => b.messages.at(-1).content).sort(), ["hello there", "why?"]);
    assert.deepEqual(ds.map((b) => b.max_tokens).sort(), [3, 5]);
    assert.equal(r.inputSizing, "dataset (as given)");
  });

  it("counts HTTP errors, malformed SSE, non-streaming answers, dropped connections and timeouts, and never hangs", async () => {
    const kinds: [string, string, number][] = [["flaky", "HTTP 500", 2], ["malformed", "malformed SSE", 6], ["nostream", "not streaming", 6], ["drop", "", 6], ["hang", "timeout", 6]];
    await Promise.all(kinds.map(async ([model, kind, n]) => {
      const r = await runBench(options(s.url, { targets: [{ url: s.url, model }], levels: [3], requests: 6, timeoutMs: 600 }));
      const m = r.levels[0]!.results[0]!;
      assert.equal(m.requests, 6, model);
      assert.equal(m.errors, n, `${model}: ${JSON.stringify(m.errorsByKind)}`);
      if (kind) assert.equal(m.errorsByKind[kind], n, `${model}: ${JSON.stringify(m.errorsByKind)}`);
      assert.ok(m.errorSamples.length > 0);
    }));
  });

  it("sizes prompts with a llama.cpp-style /tokenize and compares two servers side by side", async () => {
    const slow = await scriptedServer({ firstMs: 100, tokenize: true });
    try {
      const out = tempDir("nimble-bench-");
      const r = await cli(["--url", slow.url, "--compare", s.url, "--label", "slow", "--compare-label", "fast", "--concurrency", "1,2",
        "--requests", "3", "--output-tokens", "4", "--warmup", "0", "--out", out, "--no-progress"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /ratios slow \/ fast/);
      const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
      assert.equal(res.inputSizing, "tokenize");
      assert.deepEqual(res.targets.map((t: any) => t.label), ["slow", "fast"]);
      assert.equal(res.ratios.length, 2);
      for (const q of res.ratios) assert.ok(q.ttftP50 > 1.2, `TTFT ratio ${q.ttftP50}`);
      // Prompts are the same for both servers, and sized to 300 words by the slow server's tokenizer.
      const words = slow.bodies.map((b) => b.messages[0].content.split(" ").length);
      assert.ok(words.every((w) => Math.abs(w - 300) <= 10), String(words));
      const fastPrompts = new Set(s.bodies.map((b) => b.messages?.[0]?.content));
      assert.ok(slow.bodies.every((b) => fastPrompts.has(b.messages[0].content)));
      // Levels alternate which server goes first.
      const firstAt = (srv: Scripted, n: number) => srv.bodies.filter((b) => b.max_tokens === 4).at(n)!._at;
      assert.ok(firstAt(slow, 0) < firstAt(s, -6), "level 1: slow first");
      assert.ok(firstAt(slow, 3) > firstAt(s, -3), "level 2: fast first");
    } finally {
      await slow.close();
    }
  });

  it("fails with a one-line message, a non-zero exit and no stack trace on bad input", async () => {
    const bad = join(tempDir(), "bad.jsonl");
    writeFileSync(bad, '{"prompt": "ok"}\n{"promt": "typo"}\n');
    const cases: [string[], RegExp][] = [
      [["--url", "http://127.0.0.1:1"], /cannot reach http:\/\/127\.0\.0\.1:1/],
      [["--url", "not a url"], /not a URL/],
      [[], /--url/],
      [["--url", s.url, "--concurrency", "0"], /--concurrency must be a comma-separated list/],
      [["--url", s.url, "--concurrency", "1,x"], /--concurrency/],
      [["--url", s.url, "--workload", "nope"], /--workload/],
      [["--url", s.url, "--requests", "3", "--duration", "2"], /either --requests or --duration/],
      [["--url", s.url, "--concurrency", "2", "--request-rate", "1"], /either --concurrency or --request-rate/],
      [["--url", s.url, "--workload", "dataset"], /needs --dataset/],
      [["--url", s.url, "--workload", "dataset", "--dataset", bad], /line 2/],
      [["--url", s.url, "--workload", "dataset", "--dataset", "/does/not/exist.jsonl"], /cannot read dataset/],
      [["--url", s.url, "--timeout", "-1"], /--timeout/],
    ];
    await Promise.all(cases.map(async ([args, message]) => {
      const r = await cli([...args, "--no-progress"]);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.ok(!/\n\s+at /.test(r.stderr), `stack trace for ${args.join(" ")}:\n${r.stderr}`);
    }));
  });
});
