/**
 * TTFT of a continued Responses API conversation against the same conversation sent cold.
 *
 *   node dist/bench/responses-continue.js [--reps 5] [--input-tokens 1000] [--threads 1] [--model FILE] [--out docs/bench-results]
 *
 * Starts `nimble serve` (one sequence, no KV cache tier, so nothing but the sequence itself can keep
 * a conversation) on the generated `bench` model (or --model). Each repetition:
 *   1. a first turn: instructions naming the repetition, a long input (~--input-tokens), 16 output tokens;
 *   2. warm: `previous_response_id` of turn 1 and a short new input, streamed — TTFT measured;
 *   3. cold: the very same conversation (turn 1's input and output, then the short input) sent as
 *      items without `previous_response_id`, under other instructions of the same length, so the
 *      prompt differs from the first tokens on and nothing of it is cached — TTFT measured.
 * TTFT is send → first `response.output_text.delta`. Reports p50 of both, their ratio, and the
 * `usage.input_tokens_details.cached_tokens` each reported.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { Rng } from "../src/models/rng.js";
import { median } from "../src/bench/stats.js";
import { intArg, parseArgs } from "./args.js";
import { machineInfo } from "./machine.js";
import { freePort, runBenchmark, startServer, waitReady } from "./servers.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const say = (line: string) => process.stderr.write(`${line}\n`);

interface Usage { input_tokens: number; input_tokens_details: { cached_tokens: number }; output_tokens: number }
interface Timed { ttftMs: number; usage: Usage }

/** Words from a small vocabulary, seeded: a long input that no two repetitions share. */
function words(rng: Rng, count: number): string {
  const vocab = ["river", "stone", "lamp", "orchard", "signal", "copper", "meadow", "harbor", "lantern", "quiet", "window", "thread", "summit", "ember", "valley", "canvas"];
  return Array.from({ length: count }, () => vocab[Math.floor(rng.next() * vocab.length)]).join(" ");
}

async function create(url: string, body: Record<string, unknown>): Promise<{ id: string; output_text: string; usage: Usage }> {
  const res = await fetch(`${url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as any;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${json?.error?.message}`);
  const text = json.output.flatMap((i: any) => (i.type === "message" ? i.content.map((p: any) => p.text) : [])).join("");
  return { id: json.id, output_text: text, usage: json.usage };
}

/** A streamed create, timed to its first text delta; the usage comes with response.completed. */
async function timed(url: string, body: Record<string, unknown>): Promise<Timed> {
  const sent = performance.now();
  const res = await fetch(`${url}/v1/responses`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let ttftMs: number | undefined;
  let usage: Usage | undefined;
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const data = buffer.slice(0, end).split("\n").find((l) => l.startsWith("data: "));
      buffer = buffer.slice(end + 2);
      if (!data) continue;
      const event = JSON.parse(data.slice(6));
      if (event.type === "response.output_text.delta" && ttftMs === undefined) ttftMs = performance.now() - sent;
      if (event.type === "response.completed" || event.type === "response.incomplete") usage = event.response.usage;
      if (event.type === "response.failed") throw new Error(`response failed: ${JSON.stringify(event.response.error)}`);
    }
  }
  if (ttftMs === undefined || !usage) throw new Error("the stream ended without text or usage");
  return { ttftMs, usage };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ["reps", "input-tokens", "threads", "model", "out"]);
  const reps = intArg(args, "reps", 5);
  const inputTokens = intArg(args, "input-tokens", 1000);
  const dir = join(os.tmpdir(), `nimble-responses-continue-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  let model = args.get("model");
  if (!model) {
    model = join(dir, "bench.gguf");
    say("generating the bench model");
    await generateModel(model, { shape: PRESETS.bench, seed: 42 });
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const threads = String(intArg(args, "threads", 1));
  const server = startServer("nimble", url, [
    process.execPath, join(REPO, "bin/nimble.cjs"), "serve", "--model", model, "--served-model-name", "bench", "--port", String(port),
    "--parallel", "1", "--ctx-size", "4096", "--threads", threads, "--kv-cache-ram", "0", "--home", dir, "--log-level", "error",
  ], join(dir, "nimble.log"));
  await waitReady(server, "/v1/health/ready", 120_000);

  const rng = new Rng(7);
  // A word of the small vocabulary with its space is about four tokens of the bench model's byte-level BPE.
  const long = () => words(rng, Math.round(inputTokens / 4));
  await create(url, { input: "warm-up", max_output_tokens: 2, temperature: 0 });
  const rows: { warm: Timed; cold: Timed; firstInputTokens: number }[] = [];
  for (let i = 0; i < reps; i++) {
    const tag = String(i).padStart(2, "0");
    const input = long();
    const first = await create(url, { instructions: `Conversation ${tag}a.`, input, max_output_tokens: 16, temperature: 0 });
    const followUp = "And what happened next?";
    const warm = await timed(url, { instructions: `Conversation ${tag}a.`, previous_response_id: first.id, input: followUp, max_output_tokens: 4, temperature: 0 });
    const cold = await timed(url, {
      instructions: `Conversation ${tag}b.`,
      store: false,
      input: [{ role: "user", content: input }, { role: "assistant", content: first.output_text }, { role: "user", content: followUp }],
      max_output_tokens: 4,
      temperature: 0,
    });
    rows.push({ warm, cold, firstInputTokens: first.usage.input_tokens });
    say(`rep ${i}: first turn ${first.usage.input_tokens} input tokens; warm TTFT ${warm.ttftMs.toFixed(0)} ms (${warm.usage.input_tokens} input, ${warm.usage.input_tokens_details.cached_tokens} cached); cold TTFT ${cold.ttftMs.toFixed(0)} ms (${cold.usage.input_tokens} input, ${cold.usage.input_tokens_details.cached_tokens} cached)`);
  }
  const warmP50 = median(rows.map((r) => r.warm.ttftMs));
  const coldP50 = median(rows.map((r) => r.cold.ttftMs));
  const summary = {
    reps,
    firstTurnInputTokens: median(rows.map((r) => r.firstInputTokens)),
    continuedInputTokens: median(rows.map((r) => r.warm.usage.input_tokens)),
    warm: { ttftP50Ms: warmP50, cachedTokensP50: median(rows.map((r) => r.warm.usage.input_tokens_details.cached_tokens)) },
    cold: { ttftP50Ms: coldP50, cachedTokensP50: median(rows.map((r) => r.cold.usage.input_tokens_details.cached_tokens)) },
    coldOverWarm: coldP50 / warmP50,
  };
  process.stdout.write(
    `continued turn (previous_response_id): TTFT p50 ${warmP50.toFixed(0)} ms, ${summary.warm.cachedTokensP50} of ${summary.continuedInputTokens} input tokens cached\n` +
      `same conversation sent cold:          TTFT p50 ${coldP50.toFixed(0)} ms, ${summary.cold.cachedTokensP50} cached\n` +
      `cold / continued: ${summary.coldOverWarm.toFixed(1)}x (load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})\n`,
  );
  const out = args.get("out");
  if (out) {
    mkdirSync(out, { recursive: true });
    const settings = { reps, inputTokens, threads, model: args.get("model") ?? "generated bench preset (seed 42)", parallel: 1, kvCacheRam: 0 };
    writeFileSync(join(out, `responses-continue-${new Date().toISOString().replace(/[:.]/g, "-")}.json`), `${JSON.stringify({ machine: machineInfo(REPO), loadAverage: os.loadavg(), settings, summary, rows }, null, 2)}\n`);
  }
}

runBenchmark("responses-continue", main, say);
