/**
 * Serving benchmark against one running OpenAI-compatible server — the original script, now a thin
 * wrapper over `nimble bench` (src/bench) with the completions endpoint and synthetic prompts.
 *
 *   node dist/bench/serving.js --url http://127.0.0.1:8000 [--model M] [--concurrency 1,4,16]
 *        [--requests N] [--max-tokens 128] [--prompt-tokens 300] [--warmup 2] [--timeout-ms 300000] [--seed 1] [--json FILE]
 *
 * Prefer `nimble bench --endpoint completions --url URL --concurrency 1,4,16` (more workloads, reports).
 */
import { writeFileSync } from "node:fs";
import { ratioTable, resultsTable } from "../src/bench/report-text.js";
import { runBench } from "../src/bench/run.js";
import { NIMBLE_VERSION } from "../src/version.js";
import { intArg, intListArg, parseArgs } from "./args.js";

const USAGE = `usage: node dist/bench/serving.js --url URL [--model M] [--concurrency 1,4,16] [--requests N] [--max-tokens 128]
  [--prompt-tokens 300] [--warmup 2] [--timeout-ms 300000] [--seed 1] [--json FILE]`;

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) { console.log(USAGE); return; }
  const args = parseArgs(process.argv.slice(2), ["url", "model", "concurrency", "requests", "max-tokens", "prompt-tokens", "warmup", "timeout-ms", "seed", "json"]);
  const url = args.get("url");
  if (!url) throw new Error("--url is required (e.g. --url http://127.0.0.1:8000)");
  const results = await runBench({
    targets: [{ url, model: args.get("model") }],
    endpoint: "completions",
    workload: {
      kind: "synthetic", seed: intArg(args, "seed", 1), inputTokens: intArg(args, "prompt-tokens", 300), outputTokens: intArg(args, "max-tokens", 128),
      ignoreEos: true, prefixTokens: 0, conversations: 0, turns: 0,
    },
    mode: "concurrency",
    levels: intListArg(args, "concurrency", [1, 4, 16]),
    requests: args.has("requests") ? intArg(args, "requests", 8) : undefined,
    warmup: args.get("warmup") === "0" ? 0 : intArg(args, "warmup", 2),
    timeoutMs: intArg(args, "timeout-ms", 300_000),
    temperature: 0,
    slo: {},
    command: `node dist/bench/serving.js ${process.argv.slice(2).join(" ")}`,
    version: NIMBLE_VERSION,
  }, { log: (line) => process.stderr.write(`${line}\n`) });
  console.log(`\n${resultsTable(results)}`);
  const ratios = ratioTable(results);
  if (ratios) console.log(`\n${ratios}`);
  const jsonPath = args.get("json");
  if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`serving: ${(err as Error).message}\n`);
  process.exit(1);
});
