/**
 * /v1/embeddings throughput, Nimble vs llama.cpp's server (`--embedding`), same model and machine.
 *
 *   node dist/bench/embeddings.js [--rounds 3] [--passages 1000] [--passage-tokens 200] [--batch 32]
 *        [--concurrency 16] [--parallel 16] [--ctx-size 512] [--batch-size 8192] [--threads 2]
 *        [--model-path /tmp/embed-bench.gguf] [--llama-server /tmp/llama.cpp/build/bin/llama-server]
 *        [--llama-extra "-kvu"] [--out docs/bench-results] [--seed 1] [--timeout-ms 600000]
 *
 * Generates the model if missing (the bench shape with mean pooling), starts both servers (same
 * threads, --parallel sequences of --ctx-size tokens, --batch-size tokens per decode), then each
 * round runs two workloads on both, alternating which goes first: "batch" sends the passages
 * --batch per request, one request at a time; "concurrent" sends one passage per request,
 * --concurrency in flight. Every round and workload gets fresh passages. Before measuring it checks
 * that each server gives a passage the same vector alone as inside a batch (max abs difference).
 * Prints medians over rounds (inputs/s, ratio Nimble / llama.cpp) and writes the raw JSON to --out.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { intArg, parseArgs } from "./args.js";
import { fmt, markdownTable, median, ratio } from "./format.js";
import { binaryVersion, machineInfo } from "./machine.js";
import { buildPrompts, serverTokenCounter } from "./prompts.js";
import { freePort, runBenchmark, startServer, supportedArgs, waitReady, type ManagedServer } from "./servers.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const say = (line: string) => process.stderr.write(`${line}\n`);

type Key = "nimble" | "llama";
type Workload = "batch" | "concurrent";

interface RunResult {
  inputs: number;
  requests: number;
  seconds: number;
  inputsPerSecond: number;
  /** Prompt tokens the server reported, per input. */
  meanInputTokens: number;
  errors: number;
  errorSamples: string[];
}

const USAGE = `usage: node dist/bench/embeddings.js [--rounds 3] [--passages 1000] [--passage-tokens 200] [--batch 32] [--concurrency 16]
  [--parallel 16] [--ctx-size 512] [--batch-size 8192] [--threads 2] [--model-path /tmp/embed-bench.gguf]
  [--llama-server /tmp/llama.cpp/build/bin/llama-server] [--llama-extra "-kvu"] [--out docs/bench-results] [--seed 1] [--timeout-ms 600000]`;

async function embed(url: string, input: string | string[], timeoutMs: number): Promise<{ vectors: number[][]; promptTokens: number }> {
  const res = await fetch(`${url}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input, encoding_format: "float" }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { data?: { index: number; embedding: number[] }[]; usage?: { prompt_tokens?: number }; error?: unknown };
  if (res.status !== 200 || !body.data) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body.error ?? body).slice(0, 200)}`);
  const vectors = [...body.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
  return { vectors, promptTokens: body.usage?.prompt_tokens ?? 0 };
}

/** Sends `passages` as `perRequest` inputs per request with `concurrency` requests in flight; inputs/s over the whole run. */
async function run(url: string, passages: string[], perRequest: number, concurrency: number, timeoutMs: number): Promise<RunResult> {
  const requests: string[][] = [];
  for (let i = 0; i < passages.length; i += perRequest) requests.push(passages.slice(i, i + perRequest));
  let next = 0, errors = 0, tokens = 0, done = 0;
  const errorSamples: string[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, async () => {
    while (next < requests.length) {
      const batch = requests[next++]!;
      try {
        const r = await embed(url, batch.length === 1 ? batch[0]! : batch, timeoutMs);
        tokens += r.promptTokens;
        done += batch.length;
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push((err as Error).message);
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  return { inputs: done, requests: requests.length, seconds, inputsPerSecond: done / seconds, meanInputTokens: done ? tokens / done : 0, errors, errorSamples };
}

/** Largest |difference| between each passage embedded alone and inside one batch request, and inside concurrent requests. */
async function consistency(url: string, passages: string[], timeoutMs: number): Promise<{ batchVsAlone: number; concurrentVsAlone: number }> {
  const alone: number[][] = [];
  for (const p of passages) alone.push((await embed(url, p, timeoutMs)).vectors[0]!);
  const batch = (await embed(url, passages, timeoutMs)).vectors;
  const concurrent = (await Promise.all(passages.map((p) => embed(url, p, timeoutMs)))).map((r) => r.vectors[0]!);
  const diff = (vs: number[][]) => Math.max(...vs.map((v, i) => Math.max(...v.map((x, j) => Math.abs(x - alone[i]![j]!)))));
  return { batchVsAlone: diff(batch), concurrentVsAlone: diff(concurrent) };
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) { console.log(USAGE); return; }
  const args = parseArgs(process.argv.slice(2), ["rounds", "passages", "passage-tokens", "batch", "concurrency", "parallel", "ctx-size", "batch-size",
    "threads", "model-path", "llama-server", "llama-extra", "out", "seed", "timeout-ms"]);
  const rounds = intArg(args, "rounds", 3);
  const passageCount = intArg(args, "passages", 1000);
  const passageTokens = intArg(args, "passage-tokens", 200);
  const perBatch = intArg(args, "batch", 32);
  const concurrency = intArg(args, "concurrency", 16);
  const parallel = intArg(args, "parallel", 16);
  const ctx = intArg(args, "ctx-size", 512);
  const batchSize = intArg(args, "batch-size", 8192);
  const threads = intArg(args, "threads", 2);
  const seed = intArg(args, "seed", 1);
  const timeoutMs = intArg(args, "timeout-ms", 600_000);
  const modelPath = resolve(args.get("model-path") ?? "/tmp/embed-bench.gguf");
  const llamaBin = resolve(args.get("llama-server") ?? "/tmp/llama.cpp/build/bin/llama-server");
  const llamaExtra = (args.get("llama-extra") ?? "").split(/\s+/).filter(Boolean);
  const outDir = resolve(args.get("out") ?? "docs/bench-results");
  if (passageTokens + 2 > ctx) throw new Error(`--passage-tokens ${passageTokens} does not fit --ctx-size ${ctx}`);
  if (!existsSync(llamaBin)) throw new Error(`llama-server not found at ${llamaBin} (build llama.cpp or pass --llama-server)`);
  if (!existsSync(modelPath)) {
    say(`generating the embedding bench model (bench shape, mean pooling) at ${modelPath}`);
    await generateModel(modelPath, { shape: PRESETS.bench, poolingType: 1, name: "nimble-embed-bench" });
  }
  const logDir = mkdtempSync(join(os.tmpdir(), "nimble-embed-bench-"));

  // One server after the other, so their model loads do not compete for the cores.
  const llamaPort = await freePort();
  const llamaArgv = [llamaBin, ...supportedArgs(llamaBin, [
    ["-m", modelPath], ["--host", "127.0.0.1"], ["--port", String(llamaPort)], ["--embedding"], ["--pooling", "mean"],
    ["-np", String(parallel)], ["-c", String(parallel * ctx)], ["-b", String(batchSize)], ["-ub", String(batchSize)],
    ["-t", String(threads)], ["-tb", String(threads)], ["--no-webui"],
  ], say), ...llamaExtra];
  const llama = startServer("llama-server", `http://127.0.0.1:${llamaPort}`, llamaArgv, join(logDir, "llama-server.log"));
  say(`starting llama-server: ${llama.command.join(" ")}`);
  await waitReady(llama, "/health", 180_000);
  const nimblePort = await freePort();
  const nimble = startServer("nimble", `http://127.0.0.1:${nimblePort}`, [process.execPath, join(REPO, "bin/nimble.cjs"), "serve",
    "--model", modelPath, "--embedding-model", modelPath, "--host", "127.0.0.1", "--port", String(nimblePort), "--threads", String(threads),
    "--parallel", "1", "--ctx-size", "512", "--embedding-ctx-size", String(ctx), "--embedding-parallel", String(parallel)], join(logDir, "nimble.log"));
  say(`starting nimble: ${nimble.command.join(" ")}`);
  await waitReady(nimble, "/v1/health/ready", 180_000);
  say(`both ready; logs in ${logDir}`);
  const servers: Record<Key, ManagedServer> = { nimble, llama };

  // Passages sized with llama-server's tokenizer (same model, same tokenizer): the characters per
  // token of a few sized samples, then estimated lengths (the servers report the real counts).
  const counter = await serverTokenCounter(llama.url);
  const samples = await buildPrompts({ count: 8, seed, firstIndex: 1_000_000, targetTokens: passageTokens, counter });
  const charsPerToken = samples.prompts.reduce((n, p) => n + p.length, 0) / samples.tokens.reduce((n, t) => n + t, 0);
  let nextIndex = 0;
  const take = async (count: number) => {
    const set = await buildPrompts({ count, seed, firstIndex: nextIndex, targetTokens: Math.round((passageTokens * charsPerToken) / 4) });
    nextIndex += count;
    return set.prompts;
  };

  const checkSet = await take(8);
  const checks = { nimble: await consistency(nimble.url, checkSet, timeoutMs), llama: await consistency(llama.url, checkSet, timeoutMs) };
  say(`alone vs batched, max |difference|: Nimble ${checks.nimble.batchVsAlone.toExponential(1)} (batch) ${checks.nimble.concurrentVsAlone.toExponential(1)} (concurrent); `
    + `llama.cpp ${checks.llama.batchVsAlone.toExponential(1)} / ${checks.llama.concurrentVsAlone.toExponential(1)}`);

  const workloads: { name: Workload; perRequest: number; concurrency: number }[] = [
    { name: "batch", perRequest: perBatch, concurrency: 1 },
    { name: "concurrent", perRequest: 1, concurrency },
  ];
  const results: Record<Workload, Record<Key, RunResult[]>> = { batch: { nimble: [], llama: [] }, concurrent: { nimble: [], llama: [] } };
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const [wi, w] of workloads.entries()) {
      const order: Key[] = (round + wi) % 2 === 0 ? ["nimble", "llama"] : ["llama", "nimble"];
      for (const key of order) {
        await run(servers[key].url, await take(Math.min(2 * w.perRequest, 32)), w.perRequest, w.concurrency, timeoutMs); // warm-up, not counted
        const r = await run(servers[key].url, await take(passageCount), w.perRequest, w.concurrency, timeoutMs);
        results[w.name][key].push(r);
        say(`round ${round + 1}/${rounds} ${w.name.padEnd(10)} ${(key === "nimble" ? "Nimble" : "llama.cpp").padEnd(9)}: ${fmt(r.inputsPerSecond)} inputs/s `
          + `(${r.inputs} inputs in ${r.seconds.toFixed(1)} s, ${fmt(r.meanInputTokens, 0)} tokens each, ${r.errors} errors${r.errorSamples.length ? `: ${r.errorSamples.join("; ")}` : ""})`);
      }
    }
  }

  const summary = workloads.map((w) => {
    const med = (key: Key) => median(results[w.name][key].map((r) => r.inputsPerSecond));
    return {
      workload: w.name, perRequest: w.perRequest, concurrency: w.concurrency,
      nimbleInputsPerSecond: med("nimble"), llamaInputsPerSecond: med("llama"), ratio: med("nimble") / med("llama"),
      perRound: results[w.name].nimble.map((r, i) => [r.inputsPerSecond, results[w.name].llama[i]!.inputsPerSecond]),
      errors: { nimble: results[w.name].nimble.reduce((n, r) => n + r.errors, 0), llama: results[w.name].llama.reduce((n, r) => n + r.errors, 0) },
    };
  });
  const machine = machineInfo(REPO);
  const llamaVersion = binaryVersion(llamaBin);
  const describe = (w: (typeof summary)[number]) => (w.workload === "batch" ? `batch (${w.perRequest} inputs/request, 1 in flight)` : `concurrent (1 input/request, ${w.concurrency} in flight)`);
  console.log([
    "",
    `/v1/embeddings, Nimble vs llama.cpp server — ${machine.cpu}, ${machine.cores} cores, ${machine.totalMemoryGiB} GiB, Node ${machine.node}, ${llamaVersion ?? "llama-server"}`,
    `model ${modelPath}; ${passageCount} passages of ~${passageTokens} tokens per run; ${parallel} sequences of ${ctx} tokens, ${batchSize}-token batches, ${threads} threads; median of ${rounds} round(s); ratio = Nimble / llama.cpp`,
    "",
    markdownTable(["workload", "Nimble inputs/s", "llama.cpp inputs/s", "ratio"],
      summary.map((s) => [describe(s), fmt(s.nimbleInputsPerSecond), fmt(s.llamaInputsPerSecond), ratio(s.nimbleInputsPerSecond, s.llamaInputsPerSecond)])),
    "",
    `alone vs batched (max |difference| over 8 passages): Nimble ${checks.nimble.batchVsAlone.toExponential(1)} / ${checks.nimble.concurrentVsAlone.toExponential(1)}, `
      + `llama.cpp ${checks.llama.batchVsAlone.toExponential(1)} / ${checks.llama.concurrentVsAlone.toExponential(1)} (batch request / concurrent requests)`,
    summary.some((s) => s.errors.nimble + s.errors.llama > 0) ? `errors: ${summary.map((s) => `${s.workload}: Nimble ${s.errors.nimble}, llama.cpp ${s.errors.llama}`).join("; ")}` : "no errors",
  ].join("\n"));

  mkdirSync(outDir, { recursive: true });
  const outPath = join(outDir, `embeddings-${machine.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(outPath, `${JSON.stringify({
    machine, llamaServer: { binary: llamaBin, version: llamaVersion, command: llama.command }, nimble: { command: nimble.command },
    settings: { modelPath, rounds, passageCount, passageTokens, charsPerToken, perBatch, concurrency, parallel, ctxPerSequence: ctx, batchSize, threads, seed },
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    consistency: checks, summary, rounds: results,
  }, null, 2)}\n`);
  say(`results: ${outPath}`);
}

runBenchmark("embeddings bench", main, say);
