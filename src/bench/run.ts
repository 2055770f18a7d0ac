/**
 * A whole `nimble bench` run: probe the target(s), size the workload, then for every level run a
 * warm-up and the measured load against each target — alternating which goes first, so machine noise
 * hits both alike in a `--compare` run — and collect everything results.json needs.
 */
import os from "node:os";
import type { Endpoint, RequestResult, Target } from "./client.js";
import { levelMetrics, type LevelMetrics, type Slo } from "./metrics.js";
import { llamaInvalidUtf8Ban } from "./quirks.js";
import { runLoad, type LoadMode } from "./runner.js";
import { baseUrlOf, probeServer, type ServerInfo } from "./server-info.js";
import { promptWords } from "./text.js";
import { serverSizing } from "./tokenize.js";
import { createWorkload, type WorkloadOptions } from "./workloads.js";

export interface TargetOptions {
  url: string;
  model?: string;
  apiKey?: string;
  label?: string;
}

export interface BenchOptions {
  targets: TargetOptions[];
  endpoint: Endpoint;
  workload: WorkloadOptions;
  mode: LoadMode;
  /** Concurrency levels or request rates. */
  levels: number[];
  /** Requests per level (default: max(2 × level, 8); multi-turn: all conversations' turns). */
  requests?: number;
  durationS?: number;
  warmup: number;
  /**
   * Idle pause before each target's measured run, ms (default 0; the CLI's --settle: 1 s), so that
   * the client's own preparation (start-up, prompt generation, sizing) and the previous run's tail are
   * over: otherwise whichever target is measured first shares the CPU with the client, and a server
   * that adapts its threads to other processes' load (Nimble's contention guard) slows down for it.
   */
  settleMs?: number;
  timeoutMs: number;
  temperature: number;
  slo: Slo;
  /** The command line, for results.json. */
  command: string;
  version: string;
}

export interface BenchHooks {
  log?: (line: string) => void;
  /** Called when a measured level starts; the returned callback gets each finished request. */
  levelStarted?: (label: string, total: number | undefined, durationS: number | undefined) => { update: (done: number) => void; finish: () => void };
}

export interface TargetReport {
  label: string;
  url: string;
  model: string;
  endpoint: Endpoint;
  /** A note on extra body fields sent to this server (the llama-server workaround), if any. */
  extraBody?: string;
  server: { models?: unknown; metadata?: unknown };
}

export interface LevelReport {
  /** The concurrency or request rate. */
  value: number;
  /** One per target, in the order of `targets`. */
  results: LevelMetrics[];
}

export interface Ratio {
  value: number;
  outputTokensPerSecond: number;
  requestsPerSecond: number;
  ttftP50: number;
  itlP50: number;
  e2eP50: number;
}

export interface BenchResults {
  tool: "nimble bench";
  version: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpu: string; cores: number; totalMemoryGiB: number; platform: string; node: string };
  endpoint: Endpoint;
  workload: Record<string, unknown> & { kind: string };
  load: { mode: LoadMode; levels: number[]; requests?: number; durationS?: number; warmup: number; settleMs: number; timeoutMs: number; temperature: number };
  slo: Slo;
  /** Input sizes: exact from the server's /tokenize, or estimated. */
  inputSizing: string;
  targets: TargetReport[];
  levels: LevelReport[];
  /** first target / second target, per level (only with --compare). */
  ratios?: Ratio[];
}

export const defaultRequests = (level: number) => Math.max(2 * Math.ceil(level), 8);

function uniqueLabels(labels: string[]): string[] {
  return labels.map((l, i) => (labels.indexOf(l) === i ? l : `${l} #${i + 1}`));
}

export async function runBench(o: BenchOptions, hooks: BenchHooks = {}): Promise<BenchResults> {
  const log = hooks.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const bases = o.targets.map((t) => baseUrlOf(t.url));
  const infos: ServerInfo[] = [];
  for (const [i, base] of bases.entries()) infos.push(await probeServer(base, o.targets[i]!.apiKey));
  const labels = uniqueLabels(o.targets.map((t, i) => t.label ?? new URL(bases[i]!).host));
  const targets: Target[] = [];
  for (const [i, t] of o.targets.entries()) {
    const model = t.model ?? infos[i]!.firstModel;
    if (!model) throw new Error(`${bases[i]}/v1/models lists no model: pass --${i === 0 ? "" : "compare-"}model`);
    const extraBody = await llamaInvalidUtf8Ban(bases[i]!, t.apiKey);
    if (extraBody) log(`${labels[i]}: llama.cpp-style /tokenize over a byte-level vocabulary: banning byte tokens 0x80-0xFF (logit_bias) so llama-server's output parser does not end streams on invalid UTF-8`);
    targets.push({ label: labels[i]!, baseUrl: bases[i]!, model, apiKey: t.apiKey, endpoint: o.endpoint, timeoutMs: o.timeoutMs, temperature: o.temperature, extraBody });
  }

  // Sizes come from the first target's tokenizer (else the second's); both get the very same texts.
  const sample = promptWords(o.workload.seed, 999_998, 100).join(" ");
  let sizing = await serverSizing(bases[0]!, targets[0]!.model, targets[0]!.apiKey, sample, o.timeoutMs);
  if (sizing.estimated && targets.length > 1) {
    const other = await serverSizing(bases[1]!, targets[1]!.model, targets[1]!.apiKey, sample, o.timeoutMs);
    if (!other.estimated) sizing = { ...other, method: `tokenize (${labels[1]})` };
  }
  if (o.workload.kind !== "dataset") log(`input sizes: ${sizing.estimated ? `${sizing.method}: the server has no /tokenize, so token counts are ESTIMATED` : "exact, from the server's /tokenize"}`);
  const workload = createWorkload(o.workload, sizing);

  const levels: LevelReport[] = [];
  for (const [li, value] of o.levels.entries()) {
    const order = li % 2 === 0 ? targets.map((_, i) => i) : targets.map((_, i) => i).reverse();
    const results: LevelMetrics[] = [];
    const maxSessions = workload.sessionsPerLevel ?? (o.durationS === undefined ? o.requests ?? defaultRequests(value) : undefined);
    const maxRequests = o.requests ?? (o.durationS === undefined ? (maxSessions ?? 0) * workload.turnsPerSession : undefined);
    // Size the level's texts before it starts (sizing calls /tokenize, which must not compete with the measured requests).
    // With --duration the count is unknown: enough for a generous guess of the level's throughput, more are sized on the fly.
    const presize = maxSessions ?? Math.ceil(Math.max(32, (o.mode === "concurrency" ? 4 : 2) * value * (o.durationS ?? 0)));
    for (let i = 0; i < presize; i++) await workload.session(li, i, false);
    for (let i = 0; i < o.warmup; i++) await workload.session(li, i, true);
    for (const ti of order) {
      const target = targets[ti]!;
      const name = `${o.mode === "concurrency" ? "c" : "rate"}=${value}${targets.length > 1 ? ` ${target.label}` : ""}`;
      if (o.warmup > 0) {
        await runLoad(target, {
          mode: o.mode, value: o.mode === "concurrency" ? Math.min(value, o.warmup) : value, maxRequests: o.warmup, maxSessions: o.warmup,
          openSession: (i) => workload.session(li, i, true), seed: o.workload.seed + 7919 * li + 1,
        });
      }
      if (o.settleMs) await new Promise((r) => setTimeout(r, o.settleMs));
      const bar = hooks.levelStarted?.(name, o.durationS === undefined ? maxRequests : undefined, o.durationS);
      const raw: RequestResult[] = await runLoad(target, {
        mode: o.mode, value, maxRequests, durationS: o.durationS, maxSessions,
        openSession: (i) => workload.session(li, i, false), seed: o.workload.seed + 7919 * li,
        onResult: (_r, done) => bar?.update(done),
      });
      bar?.finish();
      const m = levelMetrics(raw, o.slo);
      results[ti] = m;
      const errors = m.errors ? `, ${m.errors} errors (${Object.entries(m.errorsByKind).map(([k, n]) => `${n} ${k}`).join(", ")}): ${m.errorSamples[0]}` : "";
      log(`${name}: ${m.requests} requests in ${m.durationS.toFixed(1)} s, ${m.outputTokensPerSecond.toFixed(1)} out tok/s, TTFT p50 ${m.ttftMs.p50.toFixed(0)} ms${errors}`);
      if ((m.meanCachedTokens ?? 0) > 0.5 * (m.meanInputTokens ?? Infinity) && o.workload.kind === "synthetic") {
        log(`warning: ${target.label} served ${m.meanCachedTokens!.toFixed(0)} prompt tokens per request from its cache (a rerun with the same --seed?)`);
      }
    }
    levels.push({ value, results });
  }

  const cpus = os.cpus();
  const report: BenchResults = {
    tool: "nimble bench",
    version: o.version,
    command: o.command,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model ?? "unknown", cores: cpus.length, totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`, node: process.version,
    },
    endpoint: o.endpoint,
    workload: { kind: o.workload.kind, ...workload.settings },
    load: { mode: o.mode, levels: o.levels, requests: o.requests, durationS: o.durationS, warmup: o.warmup, settleMs: o.settleMs ?? 0, timeoutMs: o.timeoutMs, temperature: o.temperature },
    slo: o.slo,
    inputSizing: o.workload.kind === "dataset" ? "dataset (as given)" : sizing.method,
    targets: targets.map((t, i) => ({
      label: t.label, url: t.baseUrl, model: t.model, endpoint: t.endpoint,
      extraBody: t.extraBody ? "logit_bias bans token ids 128..255 (llama-server rejects invalid UTF-8 output; see src/bench/quirks.ts)" : undefined,
      server: { models: infos[i]!.models, metadata: infos[i]!.metadata },
    })),
    levels,
  };
  if (targets.length > 1) report.ratios = levels.map((l) => ratios(l.value, l.results[0]!, l.results[1]!));
  return report;
}

export function ratios(value: number, a: LevelMetrics, b: LevelMetrics): Ratio {
  const r = (x: number, y: number) => (Number.isFinite(x) && Number.isFinite(y) && y !== 0 ? x / y : NaN);
  return {
    value,
    outputTokensPerSecond: r(a.outputTokensPerSecond, b.outputTokensPerSecond),
    requestsPerSecond: r(a.requestsPerSecond, b.requestsPerSecond),
    ttftP50: r(a.ttftMs.p50, b.ttftMs.p50),
    itlP50: r(a.itlMs.p50, b.itlMs.p50),
    e2eP50: r(a.e2eMs.p50, b.e2eMs.p50),
  };
}
