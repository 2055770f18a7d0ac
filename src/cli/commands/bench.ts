/** `nimble bench`: measure any OpenAI-compatible server (TTFT, ITL, throughput) over a sweep of load levels, optionally side by side with a second one. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { reportHtml } from "../../bench/report-html.js";
import { ratioTable, resultsTable } from "../../bench/report-text.js";
import { runBench, type BenchOptions } from "../../bench/run.js";
import type { WorkloadKind } from "../../bench/workloads.js";
import { NIMBLE_VERSION } from "../../version.js";
import { ProgressBar } from "../progress.js";

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`--${name} must be a positive integer, got "${v}"`);
  return n;
};
const nonNegativeInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
};
const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--${name} must be a positive number, got "${v}"`);
  return n;
};
const nonNegativeNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`--${name} must be a number ≥ 0, got "${v}"`);
  return n;
};
const list = (name: string, integer: boolean) => (v: string) => {
  const items = v.split(",").map((s) => s.trim());
  const nums = items.map(Number);
  if (items.some((s) => s === "") || nums.some((n) => !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))) {
    throw new InvalidArgumentError(`--${name} must be a comma-separated list of positive ${integer ? "integers" : "numbers"}, e.g. 1,4,16; got "${v}"`);
  }
  return nums;
};

interface Flags {
  url: string; model?: string; apiKey?: string; label?: string;
  compare?: string; compareModel?: string; compareApiKey?: string; compareLabel?: string;
  endpoint: "chat" | "completions"; workload: WorkloadKind;
  inputTokens?: number; outputTokens: number; seed: number; prefixTokens: number; systemTokens: number; conversations: number; turns: number; dataset?: string; ignoreEos: boolean;
  concurrency?: number[]; requestRate?: number[]; requests?: number; duration?: number; warmup: number; settle: number; timeout: number; temperature: number;
  sloTtftMs?: number; sloItlMs?: number; out?: string; progress: boolean;
}

/** Checks the flags that depend on each other; returns the library's options. */
export function benchOptions(f: Flags, command: string): BenchOptions {
  if (f.concurrency && f.requestRate) throw new Error("give either --concurrency or --request-rate, not both");
  if (f.requests !== undefined && f.duration !== undefined) throw new Error("give either --requests or --duration per level, not both");
  if (f.workload === "dataset" && !f.dataset) throw new Error("--workload dataset needs --dataset FILE.jsonl");
  if (f.dataset && f.workload !== "dataset") throw new Error("--dataset is only used with --workload dataset");
  if (!f.compare && (f.compareModel || f.compareApiKey || f.compareLabel)) throw new Error("--compare-model, --compare-api-key and --compare-label need --compare URL");
  const mode = f.requestRate ? "rate" : "concurrency";
  return {
    targets: [
      { url: f.url, model: f.model, apiKey: f.apiKey, label: f.label },
      ...(f.compare ? [{ url: f.compare, model: f.compareModel, apiKey: f.compareApiKey ?? f.apiKey, label: f.compareLabel }] : []),
    ],
    endpoint: f.endpoint,
    workload: {
      kind: f.workload, seed: f.seed, inputTokens: f.inputTokens ?? (f.workload === "synthetic" ? 300 : 64), outputTokens: f.outputTokens,
      ignoreEos: f.ignoreEos, prefixTokens: f.prefixTokens, systemTokens: f.systemTokens, conversations: f.conversations, turns: f.turns, datasetPath: f.dataset ? resolve(f.dataset) : undefined,
    },
    mode,
    levels: f.requestRate ?? f.concurrency ?? [1],
    requests: f.requests,
    durationS: f.duration,
    warmup: f.warmup,
    settleMs: Math.round(f.settle * 1000),
    timeoutMs: Math.round(f.timeout * 1000),
    temperature: f.temperature,
    slo: { ttftMs: f.sloTtftMs, itlMs: f.sloItlMs },
    command,
    version: NIMBLE_VERSION,
  };
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("Benchmark any OpenAI-compatible server: TTFT, inter-token latency, throughput; sweeps; side by side with --compare.")
    .requiredOption("--url <url>", "server base URL (e.g. http://127.0.0.1:8000 or .../v1)")
    .option("--model <id>", "model to request (default: the first one /v1/models lists)")
    .option("--api-key <key>", "sent as a Bearer token")
    .option("--label <name>", "name of the server in tables and charts (default: host:port)")
    .addOption(new Option("--endpoint <name>", "API to call").choices(["chat", "completions"]).default("chat"))
    .addOption(new Option("--workload <name>", "what to send").choices(["synthetic", "shared-prefix", "multi-turn", "dataset"]).default("synthetic"))
    .option("--input-tokens <n>", "prompt tokens (synthetic; default 300), question tokens (shared-prefix) or user-turn tokens (multi-turn) (default 64)", positiveInt("input-tokens"))
    .option("--output-tokens <n>", "max_tokens of every request (sent with ignore_eos)", positiveInt("output-tokens"), 128)
    .option("--no-ignore-eos", "do not send ignore_eos (outputs may end early)")
    .option("--seed <n>", "seed of the random text (same seed, same prompts)", nonNegativeInt("seed"), 1)
    .option("--prefix-tokens <n>", "shared system prompt tokens (shared-prefix)", positiveInt("prefix-tokens"), 512)
    .option("--system-tokens <n>", "a system prompt of this many tokens shared by every conversation (multi-turn; 0: none)", nonNegativeInt("system-tokens"), 0)
    .option("--conversations <n>", "conversations per level (multi-turn)", positiveInt("conversations"), 8)
    .option("--turns <n>", "turns per conversation (multi-turn)", positiveInt("turns"), 4)
    .option("--dataset <file>", "JSONL of {\"prompt\": ...} or {\"messages\": [...]} lines (dataset)")
    .option("--concurrency <list>", "requests in flight, a sweep: 1,4,16 (default 1)", list("concurrency", true))
    .option("--request-rate <list>", "Poisson arrivals, requests/s, a sweep: 0.5,1,2 (instead of --concurrency)", list("request-rate", false))
    .option("--requests <n>", "measured requests per level (default max(2×level, 8); multi-turn: conversations × turns)", positiveInt("requests"))
    .option("--duration <seconds>", "measure each level for this long instead of a request count", positiveNumber("duration"))
    .option("--warmup <n>", "requests before each level, excluded from results", nonNegativeInt("warmup"), 2)
    .option("--settle <seconds>", "idle pause before each measured run, so the client's own preparation does not share the CPU with it", nonNegativeNumber("settle"), 1)
    .option("--timeout <seconds>", "per-request timeout", positiveNumber("timeout"), 300)
    .option("--temperature <t>", "sampling temperature", nonNegativeNumber("temperature"), 0)
    .option("--slo-ttft-ms <ms>", "goodput: TTFT objective", positiveNumber("slo-ttft-ms"))
    .option("--slo-itl-ms <ms>", "goodput: inter-token latency objective", positiveNumber("slo-itl-ms"))
    .option("--compare <url>", "a second server: the same workload, levels alternating between the two")
    .option("--compare-model <id>", "model on the --compare server")
    .option("--compare-api-key <key>", "API key for the --compare server (default: --api-key)")
    .option("--compare-label <name>", "name of the --compare server")
    .option("--out <dir>", "write results.json and report.html here")
    .option("--no-progress", "no progress bar")
    .action(async (flags: Flags) => {
      const command = `nimble ${process.argv.slice(2).map((a) => (/^--(compare-)?api-key(=|$)/.test(a) ? a.replace(/=.*/, "=***") : shellQuote(a))).join(" ")}`
        .replace(/(--(?:compare-)?api-key) \S+/g, "$1 ***");
      const options = benchOptions(flags, command);
      if (flags.out) mkdirSync(flags.out, { recursive: true }); // fail early on an unwritable --out
      const results = await runBench(options, {
        log: (line) => process.stderr.write(`${line}\n`),
        levelStarted: (label, total, durationS) => {
          if (!flags.progress) return { update: () => undefined, finish: () => undefined };
          const bar = new ProgressBar(label);
          const started = Date.now();
          bar.update(0, total ?? durationS, false);
          return {
            update: (done) => bar.update(total !== undefined ? done : Math.min((Date.now() - started) / 1000, durationS ?? 0), total ?? durationS, false),
            finish: () => bar.finish(),
          };
        },
      });
      process.stdout.write(`\n${resultsTable(results)}\n`);
      const ratios = ratioTable(results);
      if (ratios) process.stdout.write(`\n${ratios}\n`);
      if (flags.out) {
        writeFileSync(join(flags.out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
        writeFileSync(join(flags.out, "report.html"), reportHtml(results));
        process.stderr.write(`wrote ${join(flags.out, "results.json")} and ${join(flags.out, "report.html")}\n`);
      }
    });
}
