/**
 * Nimble vs llama.cpp's own server: same model, machine and prompts, in one run.
 *
 *   node dist/bench/compare.js [--model-path /tmp/bench.gguf] [--llama-server /tmp/llama.cpp/build/bin/llama-server]
 *        [--concurrency 1,4,16] [--requests-per-level N] [--rounds 2] [--parallel 16] [--out bench/results]
 *        [--max-tokens 128] [--prompt-tokens 300] [--warmup 2] [--ctx-size 1024] [--threads 2]
 *        [--nimble-cmd "node bin/nimble.cjs serve --model {model} --port {port} ..."] [--timeout-ms 300000]
 *
 * Generates the bench model if missing, starts both servers (each in its own process group, killed
 * on exit, error or Ctrl-C), then for every round and concurrency level runs the level against both,
 * alternating which goes first, each after a short excluded warmup. Both servers get the same
 * prompts within a level; every level and round gets fresh ones, so neither can reuse a cached prompt.
 * Prints a markdown table of medians over rounds and writes a JSON file to --out.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { intArg, intListArg, parseArgs } from "./args.js";
import { fmt, markdownTable, median, ratio } from "./format.js";
import { defaultRequests, firstModelId, runLevel, type LevelResult } from "./level.js";
import { binaryVersion, machineInfo } from "./machine.js";
import { buildPrompts, serverTokenCounter } from "./prompts.js";
import { llamaInvalidUtf8Ban } from "./quirks.js";
import { freePort, runBenchmark, startServer, supportedArgs, waitReady, type ManagedServer } from "./servers.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const say = (line: string) => process.stderr.write(`${line}\n`);

interface Target {
  key: "nimble" | "llama";
  label: string;
  server: ManagedServer;
  model: string;
  extraBody?: Record<string, unknown>;
}

/** llama-server arguments, leaving out flags this build's --help does not list. */
function llamaArgs(binary: string, model: string, port: number, parallel: number, ctxPerSeq: number, threads: number): string[] {
  return supportedArgs(binary, [
    ["-m", model], ["--host", "127.0.0.1"], ["--port", String(port)], ["-np", String(parallel)],
    ["-c", String(parallel * ctxPerSeq)], ["-t", String(threads)], ["-tb", String(threads)], ["--no-webui"],
  ], say);
}

/** The Nimble command: the default CLI, or --nimble-cmd with {model} {host} {port} {parallel} {ctx} filled in (run by sh). */
function nimbleCommand(template: string | undefined, model: string, port: number, parallel: number, ctx: number): string[] {
  if (template === undefined) {
    return [process.execPath, join(REPO, "bin/nimble.cjs"), "serve", "--model", model, "--host", "127.0.0.1",
      "--port", String(port), "--parallel", String(parallel), "--ctx-size", String(ctx)];
  }
  const filled = template.replaceAll("{model}", model).replaceAll("{host}", "127.0.0.1").replaceAll("{port}", String(port))
    .replaceAll("{parallel}", String(parallel)).replaceAll("{ctx}", String(ctx));
  if (!filled.includes(String(port))) say("warning: --nimble-cmd has no {port}; Nimble must listen where the benchmark expects it");
  return ["sh", "-c", filled];
}

const USAGE = `usage: node dist/bench/compare.js [--model-path /tmp/bench.gguf] [--llama-server /tmp/llama.cpp/build/bin/llama-server]
  [--concurrency 1,4,16] [--requests-per-level N] [--rounds 2] [--parallel 16] [--out bench/results] [--max-tokens 128]
  [--prompt-tokens 300] [--warmup 2] [--ctx-size 1024] [--threads 2 (llama-server -t/-tb)] [--timeout-ms 300000] [--seed 1]
  [--nimble-cmd "node bin/nimble.cjs serve --model {model} --host {host} --port {port} --parallel {parallel} --ctx-size {ctx}"]`;

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) { console.log(USAGE); return; }
  const args = parseArgs(process.argv.slice(2), ["model-path", "llama-server", "concurrency", "requests-per-level", "rounds", "parallel", "out",
    "nimble-cmd", "max-tokens", "prompt-tokens", "warmup", "ctx-size", "threads", "timeout-ms", "seed"]);
  const modelPath = resolve(args.get("model-path") ?? "/tmp/bench.gguf");
  const llamaBin = resolve(args.get("llama-server") ?? "/tmp/llama.cpp/build/bin/llama-server");
  const levels = intListArg(args, "concurrency", [1, 4, 16]);
  const rounds = intArg(args, "rounds", 2);
  const parallel = intArg(args, "parallel", 16);
  const outDir = resolve(args.get("out") ?? "bench/results");
  const maxTokens = intArg(args, "max-tokens", 128);
  const promptTokens = intArg(args, "prompt-tokens", 300);
  const warmup = args.get("warmup") === "0" ? 0 : intArg(args, "warmup", 2);
  const ctx = intArg(args, "ctx-size", 1024);
  const threads = intArg(args, "threads", 2);
  const timeoutMs = intArg(args, "timeout-ms", 300_000);
  const seed = intArg(args, "seed", 1);
  const requestsFor = (c: number) => (args.has("requests-per-level") ? intArg(args, "requests-per-level", 8) : defaultRequests(c));
  if (Math.max(...levels) > parallel) say(`note: concurrency above --parallel ${parallel} queues requests on both servers`);
  if (promptTokens + maxTokens > ctx) throw new Error(`--prompt-tokens + --max-tokens (${promptTokens + maxTokens}) exceed --ctx-size ${ctx}`);

  if (!existsSync(llamaBin)) throw new Error(`llama-server not found at ${llamaBin} (build llama.cpp or pass --llama-server)`);
  if (!existsSync(modelPath)) {
    say(`generating the bench model at ${modelPath}`);
    await generateModel(modelPath, { shape: PRESETS.bench });
  }
  const logDir = mkdtempSync(join(os.tmpdir(), "nimble-compare-"));

  // Servers, one after the other so their model loads do not compete for the cores.
  const llamaPort = await freePort();
  const llama = startServer("llama-server", `http://127.0.0.1:${llamaPort}`,
    [llamaBin, ...llamaArgs(llamaBin, modelPath, llamaPort, parallel, ctx, threads)], join(logDir, "llama-server.log"));
  say(`starting llama-server: ${llama.command.join(" ")}`);
  const llamaStartMs = await waitReady(llama, "/health", 180_000);
  const nimblePort = await freePort();
  const nimble = startServer("nimble", `http://127.0.0.1:${nimblePort}`,
    nimbleCommand(args.get("nimble-cmd"), modelPath, nimblePort, parallel, ctx), join(logDir, "nimble.log"));
  say(`starting nimble: ${nimble.command.join(" ")}`);
  const nimbleStartMs = await waitReady(nimble, "/v1/health/ready", 180_000);
  say(`ready: llama-server in ${(llamaStartMs / 1000).toFixed(1)} s, nimble in ${(nimbleStartMs / 1000).toFixed(1)} s; logs in ${logDir}`);

  const targets: Target[] = [
    { key: "nimble", label: "Nimble", server: nimble, model: await firstModelId(nimble.url) },
    { key: "llama", label: "llama.cpp", server: llama, model: await firstModelId(llama.url), extraBody: await llamaInvalidUtf8Ban(llama.url) },
  ];
  if (targets[1]!.extraBody) say("llama-server: banning byte tokens 0x80-0xFF so its output parser does not fail the stream (see bench/quirks.ts)");

  // Prompts are counted with llama-server's /tokenize: it is the same model, so the same tokenizer.
  const counter = await serverTokenCounter(llama.url);
  if (!counter) say("warning: llama-server has no usable /tokenize; prompt sizes are estimated");
  let nextIndex = 0;
  const take = async (count: number) => {
    const set = await buildPrompts({ count, seed, firstIndex: nextIndex, targetTokens: promptTokens, counter });
    nextIndex += count;
    return set.prompts;
  };

  const results: Record<Target["key"], LevelResult[][]> = { nimble: levels.map(() => []), llama: levels.map(() => []) };
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const [li, c] of levels.entries()) {
      const requests = requestsFor(c);
      const prompts = await take(requests);
      const order = (round + li) % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const common = { url: t.server.url, model: t.model, maxTokens, timeoutMs, extraBody: t.extraBody };
        if (warmup > 0) await runLevel({ ...common, concurrency: Math.min(c, warmup), requests: warmup, prompts: await take(warmup) });
        const r = await runLevel({ ...common, concurrency: c, requests, prompts });
        results[t.key][li]!.push(r);
        say(`round ${round + 1}/${rounds} c=${c} ${t.label.padEnd(9)}: ${fmt(r.outputTokensPerSecond)} out tok/s, TTFT p50 ${fmt(r.ttftMs.p50, 0)} ms, `
          + `${r.requests} requests in ${r.durationS.toFixed(1)} s, ${r.errors} errors${r.errorSamples.length ? ` (${r.errorSamples.join("; ")})` : ""}`
          + `${(r.meanCachedTokens ?? 0) >= 1 ? `, ${fmt(r.meanCachedTokens, 0)} cached prompt tokens/request` : ""}`);
      }
    }
  }

  const summary = levels.map((c, li) => {
    const med = (key: Target["key"], f: (r: LevelResult) => number) => median(results[key][li]!.map(f));
    const s = (key: Target["key"]) => ({
      outputTokensPerSecond: med(key, (r) => r.outputTokensPerSecond),
      requestsPerSecond: med(key, (r) => r.requestsPerSecond),
      ttftP50Ms: med(key, (r) => r.ttftMs.p50),
      ttftP90Ms: med(key, (r) => r.ttftMs.p90),
      itlMeanMs: med(key, (r) => r.itlMs.mean),
      e2eP50Ms: med(key, (r) => r.e2eMs.p50),
      errors: results[key][li]!.reduce((a, r) => a + r.errors, 0),
    });
    return { concurrency: c, requests: requestsFor(c), nimble: s("nimble"), llama: s("llama") };
  });

  const header = ["concurrency", "Nimble out tok/s", "llama.cpp out tok/s", "ratio", "Nimble TTFT p50 (ms)", "llama.cpp TTFT p50 (ms)", "ratio"];
  const rows = summary.map((s) => [
    String(s.concurrency),
    fmt(s.nimble.outputTokensPerSecond), fmt(s.llama.outputTokensPerSecond), ratio(s.nimble.outputTokensPerSecond, s.llama.outputTokensPerSecond),
    fmt(s.nimble.ttftP50Ms, 0), fmt(s.llama.ttftP50Ms, 0), ratio(s.nimble.ttftP50Ms, s.llama.ttftP50Ms),
  ]);
  const machine = machineInfo(REPO);
  const llamaVersion = binaryVersion(llamaBin);
  const errors = summary.filter((s) => s.nimble.errors + s.llama.errors > 0).map((s) => `c=${s.concurrency}: Nimble ${s.nimble.errors}, llama.cpp ${s.llama.errors}`);
  console.log([
    "",
    `Nimble vs llama.cpp server — ${machine.cpu}, ${machine.cores} cores, ${machine.totalMemoryGiB} GiB, Node ${machine.node}, ${llamaVersion ?? "llama-server"}`,
    `model ${modelPath}; prompts ~${promptTokens} tokens, ${maxTokens} output tokens (ignore_eos); --parallel ${parallel}, ${ctx} context per sequence; median of ${rounds} round(s); ratio = Nimble / llama.cpp`,
    "",
    markdownTable(header, rows),
    "",
    errors.length ? `errors (all rounds): ${errors.join("; ")}` : "no errors",
  ].join("\n"));

  mkdirSync(outDir, { recursive: true });
  const outPath = join(outDir, `compare-${machine.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(outPath, `${JSON.stringify({
    machine, llamaServer: { binary: llamaBin, version: llamaVersion, command: llama.command, extraBody: targets[1]!.extraBody ? "logit_bias bans token ids 128..255 (bench/quirks.ts)" : undefined },
    nimble: { command: nimble.command },
    settings: { modelPath, levels, rounds, parallel, ctxPerSequence: ctx, threads, maxTokens, promptTokens, warmup, seed, promptSizing: counter ? "llama-server /tokenize" : "estimate" },
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    summary,
    rounds: levels.map((c, li) => ({ concurrency: c, nimble: results.nimble[li], llama: results.llama[li] })),
  }, null, 2)}\n`);
  say(`results: ${outPath}`);
}

runBenchmark("compare", main, say);
