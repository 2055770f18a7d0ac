/**
 * Overload: many concurrent streaming clients against a small `--parallel`, a share of them
 * disconnecting at random points. Nothing may be lost or leak: every request ends in 200 (a
 * complete stream), 429 or 503 (an OpenAI error body); afterwards the server has nothing running
 * or waiting, and its memory is back where it was.
 *
 *   node dist/bench/load.js [--clients 500] [--parallel 8] [--disconnect 0.2] [--max-tokens 64]
 *        [--max-queue 64] [--queue-timeout 60] [--seed 1] [--out docs/bench-results]
 *
 * Starts `nimble serve` on a generated tiny model (its own process, so its RSS can be read), warms
 * it up with one round of the same mix (so one-time allocations do not count as growth), records
 * RSS, runs the round, waits for the gauges to return to 0 and records RSS again.
 */
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { Rng } from "../src/models/rng.js";
import { intArg, parseArgs, type Args } from "./args.js";
import { machineInfo } from "./machine.js";
import { freePort, killAllSync, startServer, stopAll, waitReady, type ManagedServer } from "./servers.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

export interface OverloadOptions {
  url: string;
  model?: string;
  clients: number;
  /** Share of clients that disconnect at a random point (before the headers or mid-stream). */
  disconnectFraction: number;
  /** Each request asks for 1 to this many tokens. */
  maxTokens: number;
  seed: number;
  /** A request that takes longer than this is a failure (hung). */
  timeoutMs?: number;
}

export interface OverloadResult {
  clients: number;
  /** Requests by outcome: "200", "429", "503", … and "disconnected" (ours, on purpose). */
  outcomes: Record<string, number>;
  /** What went wrong: unexpected statuses, streams without [DONE], error events, hangs, bad error bodies. */
  failures: string[];
  durationMs: number;
}

type Outcome = { kind: "status"; status: number } | { kind: "disconnected" } | { kind: "failure"; why: string };

async function oneClient(o: OverloadOptions, rng: Rng, index: number): Promise<Outcome> {
  const disconnect = rng.next() < o.disconnectFraction;
  // Where to hang up: before the response (after a delay), or after some chunks of the stream.
  const hangUpAfterChunks = disconnect && rng.next() < 0.7 ? Math.floor(rng.next() * o.maxTokens) : undefined;
  const hangUpAfterMs = disconnect && hangUpAfterChunks === undefined ? Math.floor(rng.next() * 500) : undefined;
  const maxTokens = 1 + Math.floor(rng.next() * o.maxTokens);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("timeout")), o.timeoutMs ?? 300_000);
  const hangUp = hangUpAfterMs !== undefined ? setTimeout(() => controller.abort(new Error("hang up")), hangUpAfterMs) : undefined;
  try {
    const res = await fetch(`${o.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...(o.model ? { model: o.model } : {}), messages: [{ role: "user", content: `client ${index}: tell me a story` }], max_tokens: maxTokens, stream: true }),
      signal: controller.signal,
    });
    if (res.status !== 200) {
      const body = await res.json().catch(() => undefined);
      if (typeof body?.error?.message !== "string") return { kind: "failure", why: `HTTP ${res.status} without an OpenAI error body` };
      if (res.status !== 429 && res.status !== 503) return { kind: "failure", why: `HTTP ${res.status}: ${body.error.message}` };
      if (!res.headers.get("retry-after")) return { kind: "failure", why: `HTTP ${res.status} without Retry-After` };
      return { kind: "status", status: res.status };
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let chunks = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      chunks = text.split("\n\n").length - 1;
      if (hangUpAfterChunks !== undefined && chunks >= hangUpAfterChunks) {
        controller.abort(new Error("hang up"));
        return { kind: "disconnected" };
      }
    }
    if (hangUpAfterChunks !== undefined && chunks < hangUpAfterChunks) {
      // The stream ended before our hang-up point: a complete response.
    }
    const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
    if (events[events.length - 1] !== "[DONE]") return { kind: "failure", why: "a 200 stream that did not end with [DONE]" };
    if (events.some((e) => e.startsWith('{"error"'))) return { kind: "failure", why: `an error event: ${events.find((e) => e.startsWith('{"error"'))}` };
    return { kind: "status", status: 200 };
  } catch (err) {
    if (disconnect && controller.signal.aborted && (controller.signal.reason as Error)?.message === "hang up") return { kind: "disconnected" };
    return { kind: "failure", why: `request error: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
    if (hangUp) clearTimeout(hangUp);
  }
}

/** Runs all clients at once and tallies how each request ended. */
export async function runOverload(o: OverloadOptions): Promise<OverloadResult> {
  const rng = new Rng(o.seed);
  const started = performance.now();
  const outcomes = await Promise.all(Array.from({ length: o.clients }, (_, i) => oneClient(o, new Rng(Math.floor(rng.next() * 2 ** 32)), i)));
  const tally: Record<string, number> = {};
  const failures: string[] = [];
  for (const out of outcomes) {
    const key = out.kind === "status" ? String(out.status) : out.kind === "disconnected" ? "disconnected" : "failure";
    tally[key] = (tally[key] ?? 0) + 1;
    if (out.kind === "failure") failures.push(out.why);
  }
  return { clients: o.clients, outcomes: tally, failures, durationMs: performance.now() - started };
}

/** The value of an unlabelled-or-first series in Prometheus text. */
function gauge(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : undefined;
}

/** Waits until nothing runs or waits; returns how long that took, or throws with the last values. */
export async function waitDrained(url: string, timeoutMs = 30_000): Promise<number> {
  const start = performance.now();
  let last = "";
  while (performance.now() - start < timeoutMs) {
    const text = await (await fetch(`${url}/v1/metrics`)).text();
    const running = gauge(text, "num_requests_running");
    const waiting = gauge(text, "num_requests_waiting");
    last = `running ${running}, waiting ${waiting}`;
    if (running === 0 && waiting === 0) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not return to idle within ${timeoutMs} ms (${last})`);
}

/** Resident memory of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

export interface LoadSetup {
  server: ManagedServer;
  pid: number;
  args: Args;
}

/** Starts `nimble serve` on a generated tiny model with the overload settings of `args`. */
export async function startLoadServer(args: Args): Promise<LoadSetup> {
  const dir = join(os.tmpdir(), `nimble-load-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const model = join(dir, "tiny.gguf");
  await generateModel(model, { shape: PRESETS.tiny, seed: 42 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const command = [
    process.execPath, join(REPO, "bin/nimble.cjs"), "serve", "--model", model, "--port", String(port), "--served-model-name", "tiny",
    "--parallel", String(intArg(args, "parallel", 8)), "--max-queue", String(intArg(args, "max-queue", 64)), "--queue-timeout", String(intArg(args, "queue-timeout", 60)),
    "--home", dir, "--log-level", "error",
  ];
  const server = startServer("nimble", url, command, join(dir, "nimble.log"));
  await waitReady(server, "/v1/health/ready", 60_000);
  return { server, pid: server.child.pid!, args };
}

export const LOAD_OPTIONS = ["clients", "parallel", "disconnect", "max-tokens", "max-queue", "queue-timeout", "seed", "out", "duration", "warmup"] as const;

export function overloadOptions(url: string, args: Args, seed: number): OverloadOptions {
  const disconnect = Number(args.get("disconnect") ?? 0.2);
  if (!(disconnect >= 0 && disconnect <= 1)) throw new Error(`--disconnect must be between 0 and 1, got ${args.get("disconnect")}`);
  return { url, clients: intArg(args, "clients", 500), disconnectFraction: disconnect, maxTokens: intArg(args, "max-tokens", 64), seed };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), LOAD_OPTIONS);
  process.on("exit", killAllSync);
  const { server, pid } = await startLoadServer(args);
  try {
    const seed = intArg(args, "seed", 1);
    await runOverload(overloadOptions(server.url, args, seed + 1000));
    await waitDrained(server.url);
    const rssBefore = rssOf(pid);
    const result = await runOverload(overloadOptions(server.url, args, seed));
    const drainMs = await waitDrained(server.url);
    const rssAfter = rssOf(pid);
    const growth = rssAfter / rssBefore - 1;
    const report = { machine: machineInfo(REPO), settings: Object.fromEntries(args), result, drainMs, rssBefore, rssAfter, rssGrowth: growth };
    const ok = result.failures.length === 0 && Math.abs(growth) <= 0.1;
    process.stdout.write(
      `${result.clients} clients in ${(result.durationMs / 1000).toFixed(1)} s: ${Object.entries(result.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}\n` +
        `failures: ${result.failures.length}${result.failures.length ? ` (first: ${result.failures[0]})` : ""}\n` +
        `idle again ${Math.round(drainMs)} ms after the last response; RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB (${(growth * 100).toFixed(1)}%)\n` +
        `${ok ? "PASS" : "FAIL"}\n`,
    );
    const out = args.get("out");
    if (out) {
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, `load-${new Date().toISOString().replace(/[:.]/g, "-")}.json`), `${JSON.stringify(report, null, 2)}\n`);
    }
    process.exitCode = ok ? 0 : 1;
  } finally {
    await stopAll();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`load: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
