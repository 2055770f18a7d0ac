/**
 * What guardrails cost: chat throughput with and without a typical configuration (PII masking and
 * injection rules on input, banned terms and PII on output, streamed), on one server in one run,
 * rounds alternating which goes first; plus the heuristic rails' own latency per request at 16
 * concurrent requests, measured in-process on the same prompts.
 *
 *   node dist/bench/guardrails.js [--rounds 3] [--requests 48] [--concurrency 16] [--max-tokens 64]
 *        [--preset tiny|bench] [--threads 2] [--out docs/bench-results]
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "../src/nimble.js";
import { generateModel, PRESETS, type PresetName } from "../src/models/generate.js";
import { loadGuardrailsFile } from "../src/guardrails/config.js";
import { Guardrails } from "../src/guardrails/guardrails.js";
import { percentile } from "../src/guardrails/eval.js";
import { intArg, parseArgs } from "./args.js";
import { machineInfo } from "./machine.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const say = (line: string) => process.stderr.write(`${line}\n`);
const CONFIG = join(REPO, "bench/data/guardrails/typical.yaml");

/** Prompts like a support desk's: some carry personal data, none is an attack (nothing is blocked). */
function prompts(n: number): string[] {
  const base = [
    "Hi, I was charged twice for order 4417. My email is jane.doe@example.com, can you refund one charge?",
    "Where is my package? I ordered a desk last week and the tracking page says nothing since Monday.",
    "Please update my card to 4111 1111 1111 1111 and send the invoice to billing@acme.example.",
    "How do I reset my password? The login page keeps saying my account is locked.",
    "Can I change the delivery address to 221B Baker Street? Call me on +44 20 7946 0958 if needed.",
    "What is your refund policy for damaged items? The box arrived crushed and the lamp is broken.",
  ];
  return Array.from({ length: n }, (_, i) => `${base[i % base.length]} (ticket ${1000 + i})`);
}

async function runPhase(url: string, texts: string[], concurrency: number, maxTokens: number, guarded: boolean): Promise<{ seconds: number; tokens: number; errors: number }> {
  let next = 0;
  let tokens = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < texts.length) {
      const text = texts[next++]!;
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: text }], max_tokens: maxTokens, ignore_eos: true, temperature: 0.7, seed: 1, stream: true, stream_options: { include_usage: true }, ...(guarded ? { guardrails: { config_id: "typical" } } : {}) }),
      });
      const body = await res.text();
      const usage = body.split("\n\n").map((f) => f.slice(6)).filter((d) => d.startsWith("{") && d.includes('"usage":{')).map((d) => JSON.parse(d).usage).pop();
      if (res.status !== 200 || !usage) errors++;
      else tokens += usage.completion_tokens;
    }
  }));
  return { seconds: (performance.now() - started) / 1000, tokens, errors };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ["rounds", "requests", "concurrency", "max-tokens", "threads", "preset", "out"]);
  const rounds = intArg(args, "rounds", 3);
  const requests = intArg(args, "requests", 48);
  const concurrency = intArg(args, "concurrency", 16);
  const maxTokens = intArg(args, "max-tokens", 64);
  const threads = intArg(args, "threads", 2);
  const preset = (args.get("preset") ?? "tiny") as PresetName;
  if (!PRESETS[preset]) throw new Error(`unknown preset ${preset}`);
  const dir = mkdtempSync(join(os.tmpdir(), "nimble-guard-bench-"));
  const model = join(dir, `${preset}.gguf`);
  await generateModel(model, { shape: PRESETS[preset], seed: 7 });

  // 1. The heuristic rails alone, 16 requests at a time (input stage, then output stage on a typical answer).
  const g = new Guardrails(loadGuardrailsFile(CONFIG));
  const compiled = g.resolve("typical")!;
  const noModels = { chat: async () => { throw new Error("none"); }, embedding: async () => { throw new Error("none"); } };
  const answer = "Thanks for reaching out. I have refunded the duplicate charge; you will see it on your statement in 3-5 business days. ".repeat(3);
  const texts = prompts(requests * 20);
  const oneRequest = async (text: string): Promise<number> => {
    const t0 = performance.now();
    const s = g.session(compiled, noModels);
    await s.checkInput([{ role: "system", text: "You are a helpful support agent." }, { role: "user", text }]);
    await s.checkOutput(answer, true);
    return performance.now() - t0;
  };
  const serial: number[] = [];
  for (const text of texts) serial.push(await oneRequest(text));
  const simultaneous: number[] = [];
  for (let i = 0; i < texts.length; i += concurrency) simultaneous.push(...(await Promise.all(texts.slice(i, i + concurrency).map(oneRequest))));
  const stats = (xs: number[]) => { const w = xs.slice(concurrency * 2); return { requests: w.length, p50Ms: percentile(w, 50), p99Ms: percentile(w, 99) }; };
  const rails = { serial: stats(serial), simultaneous: stats(simultaneous) };
  say(`heuristic rails per request (input + output stage): one at a time p50 ${rails.serial.p50Ms.toFixed(3)} ms, p99 ${rails.serial.p99Ms.toFixed(3)} ms; ${concurrency} arriving together p50 ${rails.simultaneous.p50Ms.toFixed(3)} ms, p99 ${rails.simultaneous.p99Ms.toFixed(3)} ms`);

  // 2. Chat throughput with and without the configuration, same server, alternating order.
  const server = await createServer({ model, port: 0, parallel: concurrency, threads, home: dir, logLevel: "error", guardrails: CONFIG });
  await server.ready;
  const results: { round: number; guarded: boolean; tokensPerSecond: number; errors: number }[] = [];
  let serverRails: { meanMsPerRequest: number } | undefined;
  try {
    await runPhase(server.url, prompts(concurrency), concurrency, 8, false); // warm-up (without rails: the rail metrics count only the measured phases)
    for (let round = 0; round < rounds; round++) {
      for (const guarded of round % 2 === 0 ? [false, true] : [true, false]) {
        const r = await runPhase(server.url, prompts(requests), concurrency, maxTokens, guarded);
        results.push({ round, guarded, tokensPerSecond: r.tokens / r.seconds, errors: r.errors });
        say(`round ${round + 1} ${guarded ? "with guardrails   " : "without guardrails"}: ${(r.tokens / r.seconds).toFixed(1)} tokens/s${r.errors ? `, ${r.errors} errors` : ""}`);
      }
    }
    // In the server, during the guarded phases: time the rails took per request (sum over rails; an upper bound, rails of a stage overlap).
    const metric = (await server.metrics.registry.getSingleMetric("guardrail_rail_latency_seconds")!.get()).values;
    const railSeconds = metric.filter((v) => (v as { metricName?: string }).metricName?.endsWith("_sum")).reduce((n, v) => n + v.value, 0);
    const guardedRequests = results.filter((r) => r.guarded).length * requests;
    serverRails = { meanMsPerRequest: (railSeconds * 1000) / guardedRequests };
    say(`in the server at ${concurrency} concurrent streams: rails took ${serverRails.meanMsPerRequest.toFixed(3)} ms per request on average`);
  } finally {
    await server.close();
  }
  const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
  // Each round's with/without ratio (the two phases of a round ran back to back), and their median.
  const ratios = Array.from({ length: rounds }, (_, round) => {
    const w = results.find((r) => r.round === round && r.guarded)!.tokensPerSecond;
    const wo = results.find((r) => r.round === round && !r.guarded)!.tokensPerSecond;
    return w / wo;
  });
  const base = median(results.filter((r) => !r.guarded).map((r) => r.tokensPerSecond));
  const guarded = median(results.filter((r) => r.guarded).map((r) => r.tokensPerSecond));
  const summary = { machine: machineInfo(REPO), preset, rounds, requests, concurrency, maxTokens, threads, rails, serverRails, throughput: { withoutTokensPerSecond: base, withTokensPerSecond: guarded, roundRatios: ratios, medianRoundRatio: median(ratios) }, results };
  say(`median throughput: without ${base.toFixed(1)} tokens/s, with ${guarded.toFixed(1)} tokens/s; per-round ratios ${ratios.map((r) => r.toFixed(3)).join(", ")}, median ${median(ratios).toFixed(3)}`);
  const out = args.get("out") ?? join(REPO, "docs/bench-results");
  mkdirSync(out, { recursive: true });
  const file = join(out, `guardrails-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  say(`wrote ${file}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`guardrails bench: ${(err as Error).message}\n`);
  process.exit(1);
});
