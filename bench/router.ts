/**
 * `nimble router` benchmark, two parts, each measured in one run on this machine:
 *
 * 1. Routing quality: 2–4 Nimble replicas (separate processes, the `bench` generated model) behind the
 *    router, the multi-turn and shared-prefix workloads of `nimble bench` sent through it with the
 *    `score` strategy (prefix-aware + load) and with `round-robin`, in the order A B B A (each run with
 *    its own seed: distinct texts, so no run reuses another's cache). Reports throughput and TTFT p50
 *    and their ratios.
 * 2. Routing overhead: 64 concurrent streams against a scripted upstream that answers at once
 *    (a separate process), directly and through the router (another process); the difference of the
 *    per-request latency p50s is what the router adds.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/router.js [--replicas 2] [--parallel 4] [--conversations 8]
 *     [--turns 4] [--input-tokens 160] [--output-tokens 16] [--shared-requests 24] [--overhead-requests 40] [--skip-routing]
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
    "skip-routing": { type: "boolean", default: false },
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

/** The scripted instant upstream, as a separate process: lists model "m", answers each chat request with a 3-frame SSE at once. */
const INSTANT_UPSTREAM = `
const http = require("node:http");
const frames = 'data: {"choices":[{"delta":{"content":"a"}}]}\\n\\ndata: {"choices":[{"delta":{"content":"b"}}]}\\n\\ndata: [DONE]\\n\\n';
http.createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(req.url === "/v1/models" || req.url === "/v1/health/ready" ? 200 : 404, { "content-type": "application/json" });
    return res.end(req.url === "/v1/models" ? '{"object":"list","data":[{"id":"m","object":"model"}]}' : "{}");
  }
  req.resume();
  req.on("end", () => { res.writeHead(200, { "content-type": "text/event-stream" }); res.end(frames); });
}).listen(Number(process.argv[1]), "127.0.0.1");
`;

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Closed loop: `concurrency` workers, each sending `perWorker` streamed requests one after another; per-request latency to the end of the stream, sorted. */
async function latencies(url: string, concurrency: number, perWorker: number): Promise<number[]> {
  const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "x".repeat(400) }], stream: true });
  const target = new URL(`${url}/v1/chat/completions`);
  const one = () => new Promise<number>((resolve, reject) => {
    const t = performance.now();
    const req = http.request(target, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
  const out: number[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < perWorker; i++) out.push(await one());
  }));
  return out.sort((a, b) => a - b);
}

/** The router's own time per request (arrival to forwarding), as the bucket its histogram puts the median in. */
async function routingP50Bucket(url: string): Promise<string> {
  const text = await (await fetch(`${url}/v1/metrics`)).text();
  const buckets = [...text.matchAll(/^nimble_router_routing_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((m) => ({ le: m[1]!, n: Number(m[2]) }));
  const total = buckets.at(-1)?.n ?? 0;
  const b = buckets.find((x) => x.n >= total / 2);
  return b ? `<= ${b.le === "+Inf" ? "inf" : `${Number(b.le) * 1000} ms`} (${total} requests)` : "n/a";
}
const p = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** CPU time (user + system) a process has used, in ms, from /proc (Linux). */
function cpuMs(server: ManagedServer): number {
  try {
    const fields = readFileSync(`/proc/${server.child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

async function overhead(): Promise<Record<string, unknown>> {
  const upPort = await freePort();
  const upstream = startServer("instant-upstream", `http://127.0.0.1:${upPort}`, [process.execPath, "-e", INSTANT_UPSTREAM, String(upPort)], join(work, "upstream.log"));
  await waitReady(upstream, "/v1/health/ready", 30_000);
  const rPort = await freePort();
  const router = startServer("router", `http://127.0.0.1:${rPort}`, [process.execPath, CLI, "router", "--upstream", `up=${upstream.url}`, "--port", String(rPort), "--log-level", "error", "--home", work], join(work, "router.log"));
  await waitReady(router, "/v1/health/ready", 60_000);
  const per = n("overhead-requests");
  const result: Record<string, unknown> = {};
  for (const concurrency of [1, 64]) {
    const count = concurrency === 1 ? per * 10 : per;
    await latencies(upstream.url, concurrency, 5); // warm-up both paths
    await latencies(router.url, concurrency, 5);
    // A B B A: direct, routed, routed, direct.
    const upCpu0 = cpuMs(upstream);
    const direct = await latencies(upstream.url, concurrency, count);
    const upstreamCpuPerRequestMs = (cpuMs(upstream) - upCpu0) / direct.length;
    const cpuBefore = cpuMs(router);
    const routed = [...(await latencies(router.url, concurrency, count)), ...(await latencies(router.url, concurrency, count))].sort((a, b) => a - b);
    const cpuPerRequestMs = (cpuMs(router) - cpuBefore) / routed.length;
    direct.push(...(await latencies(upstream.url, concurrency, count)));
    direct.sort((a, b) => a - b);
    const r = { concurrency, requests: routed.length, directP50: p(direct, 0.5), routedP50: p(routed, 0.5), directP90: p(direct, 0.9), routedP90: p(routed, 0.9), overheadP50: p(routed, 0.5) - p(direct, 0.5), routerCpuMsPerRequest: cpuPerRequestMs, upstreamCpuMsPerRequest: upstreamCpuPerRequestMs };
    log(`${concurrency} stream(s): direct p50 ${fmt(r.directP50, 2)} ms, routed p50 ${fmt(r.routedP50, 2)} ms: +${fmt(r.overheadP50, 2)} ms; router CPU ${fmt(cpuPerRequestMs, 3)} ms per request (the bare scripted upstream: ${fmt(upstreamCpuPerRequestMs, 3)} ms)`);
    result[`c${concurrency}`] = r;
  }
  result.routingTimeP50 = await routingP50Bucket(router.url);
  log(`router's own time per request (arrival to forwarding), p50 ${String(result.routingTimeP50)}`);
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
  for (const c of ["c1", "c64"]) process.stdout.write(`\nrouting overhead at ${o[c].concurrency} stream(s): direct p50 ${fmt(o[c].directP50, 2)} ms, through the router ${fmt(o[c].routedP50, 2)} ms (+${fmt(o[c].overheadP50, 2)} ms); router CPU ${fmt(o[c].routerCpuMsPerRequest, 3)} ms per request (bare upstream: ${fmt(o[c].upstreamCpuMsPerRequest, 3)} ms)`);
  process.stdout.write(`\nrouter's own time per request, p50 ${o.routingTimeP50}\n`);
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
