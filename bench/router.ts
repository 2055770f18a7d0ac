/**
 * `nimble router` benchmark, two parts, each measured in one run on this machine:
 *
 * 1. Routing quality: 2–4 Nimble replicas (separate processes, the `bench` generated model) behind the
 *    router, the multi-turn and shared-prefix workloads of `nimble bench` sent through it with the
 *    `score` strategy (prefix-aware + load) and with `round-robin`, in the order A B B A (each run with
 *    its own seed: distinct texts, so no run reuses another's cache). Reports throughput and TTFT p50
 *    and their ratios.
 * 2. Routing overhead: a scripted upstream (a separate process) requested directly, through the
 *    router (another process) and through a bare Node proxy (the reference: what the extra process hop
 *    alone costs here), order direct, routed, bare, bare, routed, direct, at 1 and 64 concurrent streams,
 *    two kinds of answers: "instant" (3 SSE frames at once: the closed loop then measures how many
 *    requests per second the router can proxy, i.e. its CPU cost, as queueing) and "paced" (16 frames
 *    20 ms apart, as an engine streams tokens: the router is then not saturated, and the added
 *    first-byte p50 is its latency — on a loaded machine including the wait for a core at each of the
 *    two extra process hops). Reports the added p50 (end of stream and first byte), the router's CPU time per
 *    request (/proc/<pid>/schedstat over the routed requests) beside the bare upstream's, its own
 *    routing-time histogram, and the load average before, during and after.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/router.js [--replicas 2] [--parallel 4] [--conversations 8]
 *     [--turns 4] [--input-tokens 160] [--output-tokens 16] [--shared-requests 24] [--overhead-requests 40]
 *     [--paced-requests 10] [--paced-frames 16] [--paced-interval 20] [--skip-routing]
 *     [--baseline-cli OTHER/bin/nimble.cjs]   (another build's router in the same run: direct, routed, baseline, baseline, routed, direct)
 */
import http from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { runBench, type BenchResults } from "../src/bench/run.js";
import type { WorkloadKind } from "../src/bench/workloads.js";
import { startRouter } from "../src/router/server.js";
import { freePort, startServer, stopAll, waitReady, type ManagedServer } from "./servers.js";
import { machineInfo } from "./machine.js";
import { fmt, markdownTable, ratio } from "./format.js";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const CLI = join(REPO, "bin", "nimble.cjs");

const { values: args } = parseArgs({
  options: {
    replicas: { type: "string", default: "2" },
    parallel: { type: "string", default: "4" },
    conversations: { type: "string", default: "8" },
    turns: { type: "string", default: "4" },
    "input-tokens": { type: "string", default: "160" },
    "output-tokens": { type: "string", default: "16" },
    "shared-requests": { type: "string", default: "24" },
    "prefix-tokens": { type: "string", default: "600" },
    "overhead-requests": { type: "string", default: "40" },
    "paced-requests": { type: "string", default: "10" },
    "paced-frames": { type: "string", default: "16" },
    "paced-interval": { type: "string", default: "20" },
    "skip-routing": { type: "boolean", default: false },
    "baseline-cli": { type: "string", default: "" },
    out: { type: "string", default: join(REPO, "docs", "bench-results") },
  },
});
const n = (k: keyof typeof args) => Number(args[k]);
const log = (line: string) => process.stderr.write(`${line}\n`);
const work = mkdtempSync(join(tmpdir(), "nimble-router-bench-"));

async function startReplicas(count: number, model: string): Promise<ManagedServer[]> {
  const servers: ManagedServer[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    servers.push(startServer(`replica-${i}`, `http://127.0.0.1:${port}`, [process.execPath, CLI, "serve", "--model", model, "--served-model-name", "bench", "--port", String(port), "--threads", "1", "--parallel", args.parallel!, "--ctx-size", "4096", "--home", join(work, `home-${i}`), "--log-level", "error", "--max-queue", "256"], join(work, `replica-${i}.log`)));
  }
  await Promise.all(servers.map((s) => waitReady(s, "/v1/health/ready", 120_000)));
  return servers;
}

interface RunSummary { strategy: string; workload: string; seed: number; outTokS: number; reqS: number; ttftP50: number; e2eP50: number; errors: number; cachedMean: number | undefined }

async function routedRun(replicas: ManagedServer[], strategy: "score" | "round-robin", kind: WorkloadKind, seed: number): Promise<RunSummary> {
  const router = await startRouter({ port: 0, logLevel: "silent", home: work, refreshInterval: 1, routing: { strategy }, upstreams: replicas.map((r, i) => ({ name: `r${i}`, url: r.url })) });
  try {
    const multi = kind === "multi-turn";
    const results: BenchResults = await runBench({
      targets: [{ url: router.url, model: "bench", label: strategy }],
      endpoint: "chat",
      workload: { kind, seed, inputTokens: multi ? n("input-tokens") : 32, outputTokens: n("output-tokens"), ignoreEos: true, prefixTokens: n("prefix-tokens"), conversations: n("conversations"), turns: n("turns") },
      mode: "concurrency",
      levels: [n("conversations")],
      requests: multi ? undefined : n("shared-requests"),
      warmup: 0,
      timeoutMs: 600_000,
      temperature: 0,
      slo: {},
      command: `bench/router.ts ${strategy} ${kind}`,
      version: "bench",
    });
    const m = results.levels[0]!.results[0]!;
    const s = { strategy, workload: kind, seed, outTokS: m.outputTokensPerSecond, reqS: m.requestsPerSecond, ttftP50: m.ttftMs.p50, e2eP50: m.e2eMs.p50, errors: m.errors, cachedMean: m.meanCachedTokens };
    log(`${kind} ${strategy} seed ${seed}: ${fmt(s.outTokS)} out tok/s, TTFT p50 ${fmt(s.ttftP50)} ms, cached prompt tokens/request ${fmt(s.cachedMean ?? NaN)}, errors ${s.errors}`);
    return s;
  } finally {
    await router.close();
  }
}

/**
 * The scripted upstream, as a separate process: lists models "m" and "paced"; a chat request for "m"
 * is answered at once with a 3-frame SSE (one write), one for "paced" streams `frames` frames
 * `interval` ms apart, as an engine generating tokens does.
 */
const SCRIPTED_UPSTREAM = `
const http = require("node:http");
const [port, frames, interval] = process.argv.slice(1).map(Number);
const instant = 'data: {"choices":[{"delta":{"content":"a"}}]}\\n\\ndata: {"choices":[{"delta":{"content":"b"}}]}\\n\\ndata: [DONE]\\n\\n';
// Each paced frame carries the moment it was written (µs of the machine's monotonic clock, which every process shares).
const frame = () => 'data: {"choices":[{"delta":{"content":"tok"}}],"t":' + (process.hrtime.bigint() / 1000n) + '}\\n\\n';
http.createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(req.url === "/v1/models" || req.url === "/v1/health/ready" ? 200 : 404, { "content-type": "application/json" });
    return res.end(req.url === "/v1/models" ? '{"object":"list","data":[{"id":"m","object":"model"},{"id":"paced","object":"model"}]}' : "{}");
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (!Buffer.concat(chunks).includes('"paced"')) return res.end(instant);
    let n = 0;
    const next = () => { if (++n < frames) { res.write(frame()); setTimeout(next, interval); } else res.end(frame() + "data: [DONE]\\n\\n"); };
    next();
  });
}).listen(port, "127.0.0.1");
`;

/**
 * The reference every proxy is measured against in the same run: a bare Node proxy (node:http server and
 * client, keep-alive, the body passed through chunk by chunk; no auth, no parsing, no routing, no metrics).
 * What it adds is the cost of the extra process hop on this machine, which no proxy avoids.
 */
const BARE_PROXY = `
const http = require("node:http");
const [port, upstream] = process.argv.slice(1);
const u = new URL(upstream);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const up = http.request({ host: u.hostname, port: u.port, path: req.url, method: req.method, agent, headers: { "content-type": "application/json", "content-length": body.length } }, (r) => {
      res.writeHead(r.statusCode, { "content-type": r.headers["content-type"] || "application/json" });
      r.on("data", (c) => res.write(c));
      r.on("end", () => res.end());
    });
    up.on("error", () => res.destroy());
    up.end(body);
  });
}).listen(Number(port), "127.0.0.1");
`;

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

interface Timing {
  ttfb: number;
  e2e: number;
  /** Paced answers: how long the last frame took from the upstream's write to the client (ms), and the upstream's own first-to-last frame time. */
  lastFrame?: number;
  upstreamSpan?: number;
}

const FRAME_TIME = /"t":(\d+)/g;
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Closed loop: `concurrency` workers, each sending `perWorker` streamed requests one after another; per request, the time to the first byte of body and to the end of the stream. */
async function latencies(url: string, model: string, concurrency: number, perWorker: number, spreadMs = 0): Promise<Timing[]> {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "x".repeat(400) }], stream: true });
  const paced = model === "paced";
  const target = new URL(`${url}/v1/chat/completions`);
  const one = () => new Promise<Timing>((resolve, reject) => {
    const t = performance.now();
    let ttfb = NaN;
    let firstSent: number | undefined;
    let lastSent: number | undefined;
    let lastArrived = 0;
    const req = http.request(target, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.on("data", (chunk: Buffer) => {
        if (Number.isNaN(ttfb)) ttfb = performance.now() - t;
        if (!paced) return;
        const arrived = monotonicUs();
        for (const m of chunk.toString("latin1").matchAll(FRAME_TIME)) {
          const sent = Number(m[1]);
          firstSent ??= sent;
          lastSent = sent;
          lastArrived = arrived;
        }
      });
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        const e2e = performance.now() - t;
        resolve(lastSent !== undefined ? { ttfb, e2e, lastFrame: (lastArrived - lastSent) / 1000, upstreamSpan: (lastSent - firstSent!) / 1000 } : { ttfb, e2e });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
  const out: Timing[] = [];
  // Worker w starts w/concurrency of `spreadMs` late: streams of equal length would otherwise stay in lockstep, all arriving in the same millisecond every round.
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    if (spreadMs > 0) await new Promise((r) => setTimeout(r, (w * spreadMs) / concurrency));
    for (let i = 0; i < perWorker; i++) out.push(await one());
  }));
  return out;
}

/** The router's own time per request (arrival at its handler to forwarding: queue wait, scoring), from its histogram: the buckets holding the p50 and the p90. */
async function routingTime(url: string): Promise<{ requests: number; p50: string; p90: string }> {
  const text = await (await fetch(`${url}/v1/metrics`)).text();
  const buckets = [...text.matchAll(/^nimble_router_routing_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((m) => ({ le: m[1]!, n: Number(m[2]) }));
  const total = buckets.at(-1)?.n ?? 0;
  const at = (q: number) => {
    const b = buckets.find((x) => x.n >= total * q);
    return b ? `<= ${b.le === "+Inf" ? "inf" : `${Number((Number(b.le) * 1000).toPrecision(3))} ms`}` : "n/a";
  };
  return { requests: total, p50: at(0.5), p90: at(0.9) };
}
const p = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

/** CPU time a process has spent running, in ms, from /proc/<pid>/schedstat (Linux; nanoseconds, unlike the 10 ms ticks of /proc/<pid>/stat). */
function cpuMs(server: ManagedServer): number {
  try {
    return Number(readFileSync(`/proc/${server.child.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return NaN;
  }
}

function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

interface Scenario { name: string; model: string; concurrency: number; perWorker: number; spreadMs: number }

async function overhead(): Promise<Record<string, unknown>> {
  const frames = n("paced-frames");
  const interval = n("paced-interval");
  const upPort = await freePort();
  const upstream = startServer("scripted-upstream", `http://127.0.0.1:${upPort}`, [process.execPath, "-e", SCRIPTED_UPSTREAM, String(upPort), String(frames), String(interval)], join(work, "upstream.log"));
  await waitReady(upstream, "/v1/health/ready", 30_000);
  const rPort = await freePort();
  const router = startServer("router", `http://127.0.0.1:${rPort}`, [process.execPath, CLI, "router", "--upstream", `up=${upstream.url}`, "--port", String(rPort), "--log-level", "error", "--home", work], join(work, "router.log"));
  await waitReady(router, "/v1/health/ready", 60_000);
  // Another build's router (e.g. the previous commit's bin/nimble.cjs), measured in the same run for a ratio.
  const barePort = await freePort();
  const bare = startServer("bare-proxy", `http://127.0.0.1:${barePort}`, [process.execPath, "-e", BARE_PROXY, String(barePort), upstream.url], join(work, "bare-proxy.log"));
  await waitReady(bare, "/v1/health/ready", 30_000);
  let baseline: ManagedServer | undefined;
  if (args["baseline-cli"]) {
    const bPort = await freePort();
    baseline = startServer("baseline-router", `http://127.0.0.1:${bPort}`, [process.execPath, resolve(args["baseline-cli"]), "router", "--upstream", `up=${upstream.url}`, "--port", String(bPort), "--log-level", "error", "--home", work], join(work, "baseline-router.log"));
    await waitReady(baseline, "/v1/health/ready", 60_000);
  }
  const per = n("overhead-requests");
  const scenarios: Scenario[] = [
    { name: "instant-c1", model: "m", concurrency: 1, perWorker: per * 10, spreadMs: 0 },
    { name: "instant-c64", model: "m", concurrency: 64, perWorker: per, spreadMs: 0 },
    { name: "paced-c1", model: "paced", concurrency: 1, perWorker: n("paced-requests") * 2, spreadMs: 0 },
    { name: "paced-c64", model: "paced", concurrency: 64, perWorker: n("paced-requests"), spreadMs: frames * interval },
  ];
  const result: Record<string, unknown> = { loadBefore: loadAverage(), paced: { frames, intervalMs: interval } };
  for (const sc of scenarios) {
    const run = async (target: ManagedServer): Promise<{ timings: Timing[]; cpuMs: number }> => {
      const before = cpuMs(target);
      const timings = await latencies(target.url, sc.model, sc.concurrency, sc.perWorker, sc.spreadMs);
      return { timings, cpuMs: cpuMs(target) - before };
    };
    for (const target of [upstream, router, bare, ...(baseline ? [baseline] : [])]) await latencies(target.url, sc.model, sc.concurrency, 3); // warm-up
    // A B C C B A: direct, routed, bare proxy, bare proxy, routed, direct (with a baseline router: direct, routed, bare, baseline, baseline, bare, routed, direct).
    // CPU per request: the router's over its runs, the bare upstream's over the direct ones.
    const order = baseline ? [upstream, router, bare, baseline, baseline, bare, router, upstream] : [upstream, router, bare, bare, router, upstream];
    const runs: { target: ManagedServer; timings: Timing[]; cpuMs: number }[] = [];
    for (const target of order) runs.push({ target, ...(await run(target)) });
    const of = (target: ManagedServer) => {
      const rs = runs.filter((r) => r.target === target);
      const timings = rs.flatMap((r) => r.timings);
      return { timings, cpuPerRequest: rs.reduce((sum, r) => sum + r.cpuMs, 0) / timings.length };
    };
    const direct = of(upstream);
    const q = (xs: Timing[], k: keyof Timing, at: number) => {
      const values = xs.map((x) => x[k]).filter((v): v is number => v !== undefined);
      return values.length > 0 ? p(values, at) : NaN;
    };
    const summary = (through: ReturnType<typeof of>) => ({
      routedTtfbP50: q(through.timings, "ttfb", 0.5), addedTtfbP50: q(through.timings, "ttfb", 0.5) - q(direct.timings, "ttfb", 0.5),
      routedP50: q(through.timings, "e2e", 0.5), addedP50: q(through.timings, "e2e", 0.5) - q(direct.timings, "e2e", 0.5), routedP90: q(through.timings, "e2e", 0.9),
      // Paced: the last frame's trip from the upstream's write to the client, and the upstream's own first-to-last frame time
      // (its timers run late when the machine is busier: that part of the end-to-end difference is not the router's relaying).
      routedLastFrameP50: q(through.timings, "lastFrame", 0.5), addedLastFrameP50: q(through.timings, "lastFrame", 0.5) - q(direct.timings, "lastFrame", 0.5),
      routedUpstreamSpanP50: q(through.timings, "upstreamSpan", 0.5), addedUpstreamSpanP50: q(through.timings, "upstreamSpan", 0.5) - q(direct.timings, "upstreamSpan", 0.5),
      routerCpuMsPerRequest: through.cpuPerRequest,
    });
    const r = {
      concurrency: sc.concurrency, model: sc.model, requests: of(router).timings.length,
      directTtfbP50: q(direct.timings, "ttfb", 0.5), directP50: q(direct.timings, "e2e", 0.5), directP90: q(direct.timings, "e2e", 0.9),
      directLastFrameP50: q(direct.timings, "lastFrame", 0.5), directUpstreamSpanP50: q(direct.timings, "upstreamSpan", 0.5),
      ...summary(of(router)),
      upstreamCpuMsPerRequest: direct.cpuPerRequest,
      bareProxy: summary(of(bare)),
      ...(baseline ? { baseline: summary(of(baseline)) } : {}),
      load: loadAverage(),
    };
    log(`${sc.name}: e2e p50 direct ${fmt(r.directP50, 2)} ms, routed ${fmt(r.routedP50, 2)} ms (+${fmt(r.addedP50, 2)}); first byte p50 direct ${fmt(r.directTtfbP50, 2)}, routed ${fmt(r.routedTtfbP50, 2)} (+${fmt(r.addedTtfbP50, 2)}); ${sc.model === "paced" ? `last frame's trip p50 direct ${fmt(r.directLastFrameP50, 3)}, routed ${fmt(r.routedLastFrameP50, 3)} (+${fmt(r.addedLastFrameP50, 3)}); upstream's own first-to-last frame p50 +${fmt(r.addedUpstreamSpanP50, 2)} ms; ` : ""}router CPU ${fmt(r.routerCpuMsPerRequest, 3)} ms/request (bare upstream ${fmt(r.upstreamCpuMsPerRequest, 3)}); bare proxy: +${fmt(r.bareProxy.addedP50, 2)} ms e2e, first byte +${fmt(r.bareProxy.addedTtfbP50, 2)}${sc.model === "paced" ? `, last frame +${fmt(r.bareProxy.addedLastFrameP50, 3)}` : ""}, CPU ${fmt(r.bareProxy.routerCpuMsPerRequest, 3)} ms/request${r.baseline ? `; baseline router: +${fmt(r.baseline.addedP50, 2)} ms, CPU ${fmt(r.baseline.routerCpuMsPerRequest, 3)} ms/request` : ""}; load ${r.load}`);
    result[sc.name] = r;
  }
  result.routingTime = await routingTime(router.url);
  result.loadAfter = loadAverage();
  log(`router's own time per request (arrival to forwarding): ${JSON.stringify(result.routingTime)}`);
  return result;
}

async function main(): Promise<void> {
  const machine = machineInfo(REPO);
  const out: Record<string, unknown> = { tool: "bench/router.ts", machine, args, note: "2-core machine shared with other engineers' builds and tests: numbers are noisy; compare the ratios, measured in the same run." };
  const runs: RunSummary[] = [];
  if (!args["skip-routing"]) {
    const model = join(work, "bench.gguf");
    await generateModel(model, { shape: PRESETS.bench, seed: 42 });
    const replicas = await startReplicas(n("replicas"), model);
    log(`${replicas.length} replicas ready (parallel ${args.parallel}, threads 1 each)`);
    let seed = 100;
    for (const kind of ["multi-turn", "shared-prefix"] as const) {
      for (const strategy of ["score", "round-robin", "round-robin", "score"] as const) runs.push(await routedRun(replicas, strategy, kind, seed++));
    }
    await Promise.all(replicas.map((r) => import("./servers.js").then((s) => s.stopServer(r))));
  }
  out.runs = runs;
  out.overhead = await overhead();
  await stopAll();

  const rows: string[][] = [];
  const summary: Record<string, unknown> = {};
  for (const kind of ["multi-turn", "shared-prefix"]) {
    const of = (s: string) => runs.filter((r) => r.workload === kind && r.strategy === s);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [sc, rr] = [of("score"), of("round-robin")];
    if (sc.length === 0) continue;
    const row = { throughput: mean(sc.map((r) => r.outTokS)) / mean(rr.map((r) => r.outTokS)), ttftP50: mean(rr.map((r) => r.ttftP50)) / mean(sc.map((r) => r.ttftP50)) };
    summary[kind] = row;
    rows.push([kind, fmt(mean(sc.map((r) => r.outTokS))), fmt(mean(rr.map((r) => r.outTokS))), ratio(mean(sc.map((r) => r.outTokS)), mean(rr.map((r) => r.outTokS))), fmt(mean(sc.map((r) => r.ttftP50))), fmt(mean(rr.map((r) => r.ttftP50))), ratio(mean(rr.map((r) => r.ttftP50)), mean(sc.map((r) => r.ttftP50)))]);
  }
  out.summary = summary;
  if (rows.length > 0) process.stdout.write(`${markdownTable(["workload", "prefix-aware out tok/s", "round-robin out tok/s", "throughput ×", "prefix-aware TTFT p50 ms", "round-robin TTFT p50 ms", "TTFT better ×"], rows)}\n`);
  const o = out.overhead as Record<string, any>;
  const keys = ["instant-c1", "instant-c64", "paced-c1", "paced-c64"];
  const withBaseline = o[keys[0]!].baseline !== undefined;
  process.stdout.write(`\n${markdownTable(
    ["upstream", "streams", "direct p50 ms", "routed p50 ms", "added p50 ms", "added first-byte p50 ms", "added last-frame trip p50 ms", "upstream's own stream time, added p50 ms", "router CPU / request ms", "bare proxy: added p50 / first byte / last frame ms", "bare proxy CPU / request ms", ...(withBaseline ? ["baseline added p50 ms", "baseline CPU / request ms"] : []), "bare upstream CPU / request ms", "load"],
    keys.map((k) => [o[k].model === "m" ? "instant" : `paced (${o.paced.frames} frames × ${o.paced.intervalMs} ms)`, String(o[k].concurrency), fmt(o[k].directP50, 2), fmt(o[k].routedP50, 2), `+${fmt(o[k].addedP50, 2)}`, `+${fmt(o[k].addedTtfbP50, 2)}`, o[k].model === "m" ? "—" : `+${fmt(o[k].addedLastFrameP50, 3)}`, o[k].model === "m" ? "—" : `+${fmt(o[k].addedUpstreamSpanP50, 2)}`, fmt(o[k].routerCpuMsPerRequest, 3), `+${fmt(o[k].bareProxy.addedP50, 2)} / +${fmt(o[k].bareProxy.addedTtfbP50, 2)} / ${o[k].model === "m" ? "—" : `+${fmt(o[k].bareProxy.addedLastFrameP50, 3)}`}`, fmt(o[k].bareProxy.routerCpuMsPerRequest, 3), ...(withBaseline ? [`+${fmt(o[k].baseline.addedP50, 2)}`, fmt(o[k].baseline.routerCpuMsPerRequest, 3)] : []), fmt(o[k].upstreamCpuMsPerRequest, 3), o[k].load]),
  )}\n`);
  process.stdout.write(`router's own time per request: p50 ${o.routingTime.p50}, p90 ${o.routingTime.p90} (${o.routingTime.requests} requests)\n`);
  mkdirSync(args.out!, { recursive: true });
  const file = join(args.out!, `router-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${file}`);
}

main().catch(async (err) => {
  process.stderr.write(`bench/router: ${(err as Error).stack ?? err}\n`);
  await stopAll();
  process.exit(1);
});
