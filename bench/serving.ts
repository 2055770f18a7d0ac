/**
 * Serving benchmark against one running OpenAI-compatible server (Nimble or llama-server).
 *
 *   node dist/bench/serving.js --url http://127.0.0.1:8000 [--model M] [--concurrency 1,4,16]
 *        [--requests N] [--max-tokens 128] [--prompt-tokens 300] [--warmup 2] [--timeout-ms 300000] [--json FILE]
 *
 * Each level streams `--requests` completions (default max(2*c, 8): 8 at c=1..4, 32 at c=16) with `concurrency`
 * in flight, after `--warmup` excluded requests. Every request gets its own prompt, so no prompt
 * cache is hit. Prints a markdown table.
 */
import { writeFileSync } from "node:fs";
import { intArg, intListArg, parseArgs } from "./args.js";
import { fmt, markdownTable } from "./format.js";
import { defaultRequests, firstModelId, runLevel, type LevelResult } from "./load.js";
import { promptSource } from "./prompts.js";
import { llamaInvalidUtf8Ban } from "./quirks.js";

const USAGE = `usage: node dist/bench/serving.js --url URL [--model M] [--concurrency 1,4,16] [--requests N] [--max-tokens 128]
  [--prompt-tokens 300] [--warmup 2] [--timeout-ms 300000] [--seed 1] [--json FILE]`;

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) { console.log(USAGE); return; }
  const args = parseArgs(process.argv.slice(2), ["url", "model", "concurrency", "requests", "max-tokens", "prompt-tokens", "warmup", "timeout-ms", "seed", "json"]);
  const url = (args.get("url") ?? "").replace(/\/+$/, "").replace(/\/v1$/, "");
  if (!url) throw new Error("--url is required (e.g. --url http://127.0.0.1:8000)");
  const levels = intListArg(args, "concurrency", [1, 4, 16]);
  const maxTokens = intArg(args, "max-tokens", 128);
  const promptTokens = intArg(args, "prompt-tokens", 300);
  const warmup = args.get("warmup") === "0" ? 0 : intArg(args, "warmup", 2);
  const timeoutMs = intArg(args, "timeout-ms", 300_000);
  const model = args.get("model") ?? (await firstModelId(url));
  const prompts = await promptSource(url, model, intArg(args, "seed", 1), promptTokens);
  const extraBody = await llamaInvalidUtf8Ban(url);
  process.stderr.write(`server ${url}, model "${model}", prompts ~${promptTokens} tokens (${prompts.sizing}), max_tokens ${maxTokens}\n`);
  if (extraBody) process.stderr.write("byte-level vocabulary behind /tokenize: banning byte tokens 0x80-0xFF (see bench/quirks.ts)\n");

  const results: LevelResult[] = [];
  for (const c of levels) {
    const requests = args.has("requests") ? intArg(args, "requests", 8) : defaultRequests(c);
    if (warmup > 0) {
      await runLevel({ url, model, concurrency: Math.min(c, warmup), requests: warmup, prompts: (await prompts.take(warmup)).prompts, maxTokens, timeoutMs, extraBody });
    }
    const set = await prompts.take(requests);
    const r = await runLevel({ url, model, concurrency: c, requests, prompts: set.prompts, maxTokens, timeoutMs, extraBody });
    results.push(r);
    process.stderr.write(`c=${c}: ${r.requests} requests in ${r.wallSeconds.toFixed(1)} s, ${r.errors} errors${r.errorSamples.length ? ` (${r.errorSamples.join("; ")})` : ""}\n`);
    if ((r.meanCachedTokens ?? 0) > 0.1 * (r.meanPromptTokens ?? promptTokens)) {
      process.stderr.write(`warning: the server served ${r.meanCachedTokens!.toFixed(0)} prompt tokens per request from its cache: a rerun against the same server? use another --seed\n`);
    }
  }

  const header = ["concurrency", "requests", "errors", "out tok/s", "req/s", "TTFT mean", "TTFT p50", "TTFT p90", "TTFT p99", "ITL mean", "e2e p50", "tokens from"];
  const rows = results.map((r) => [
    String(r.concurrency), String(r.requests), String(r.errors), fmt(r.outputTokensPerSecond), fmt(r.requestsPerSecond, 2),
    fmt(r.ttftMs.mean, 0), fmt(r.ttftMs.p50, 0), fmt(r.ttftMs.p90, 0), fmt(r.ttftMs.p99, 0), fmt(r.itlMeanMs, 1), fmt(r.e2eP50Ms, 0),
    r.requests === r.errors ? "-" : r.tokenSources.max_tokens === 0 ? "usage" : r.tokenSources.usage === 0 ? "max_tokens" : `mixed (${r.tokenSources.usage} usage)`,
  ]);
  console.log(`\n${markdownTable(header, rows)}\n\n(times in ms; ITL = (e2e - TTFT) / (tokens - 1))`);
  const jsonPath = args.get("json");
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify({ url, model, maxTokens, promptTokens, sizing: prompts.sizing, extraBody, results }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`serving: ${(err as Error).message}\n`);
  process.exit(1);
});
