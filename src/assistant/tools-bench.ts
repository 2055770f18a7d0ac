/**
 * The benchmark tool: a short `nimble bench` run (src/bench, the same machinery) against the served
 * model at the concurrency the user expects — few requests, few output tokens — reporting the TTFT
 * and tokens/s each user will see. It changes no setting, but it loads the server (its users wait
 * longer meanwhile), so it is confirmed like a change; nothing to undo.
 */
import { z } from "zod";
import { runBench } from "../bench/run.js";
import { NIMBLE_VERSION } from "../version.js";
import type { NimbleClient } from "./client.js";
import { str, tool } from "./tool.js";

const schema = z
  .object({
    model: z.string().min(1).max(2048).optional(),
    concurrency: z.number().int().min(1).max(32).default(1),
    requests: z.number().int().min(1).max(64).optional(),
    prompt_tokens: z.number().int().min(8).max(4096).default(128),
    max_tokens: z.number().int().min(2).max(256).default(32),
  })
  .strict();

const defaultRequests = (concurrency: number) => Math.min(64, Math.max(2 * concurrency, 4));

/** The first loaded chat model (not an embedding or rerank model), if the listing says. */
async function servedChatModel(client: NimbleClient): Promise<string | undefined> {
  const models = (await client.get("/v1/models")).data as { id: string; nimble?: { kind?: string; state?: string } }[];
  return (models.find((m) => (m.nimble?.kind ?? "chat") === "chat" && m.nimble?.state === "loaded") ?? models.find((m) => (m.nimble?.kind ?? "chat") === "chat"))?.id;
}

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : "n/a");

export const runBenchmark = tool({
  name: "run_benchmark",
  description: "Run a short benchmark (a few streamed chat requests at the expected number of simultaneous users) and report the time to first token and the tokens/s users will see.",
  schema,
  parameters: {
    type: "object",
    properties: {
      model: str(512),
      concurrency: { type: "integer", minimum: 1, maximum: 32, description: "simultaneous users" },
      requests: { type: "integer", minimum: 1, maximum: 64 },
      prompt_tokens: { type: "integer", minimum: 8, maximum: 4096 },
      max_tokens: { type: "integer", minimum: 2, maximum: 256 },
    },
    additionalProperties: false,
  },
  changes: true,
  plan: (a) => `benchmark ${a.model ?? "the served chat model"}: ${a.requests ?? defaultRequests(a.concurrency)} requests, ${a.concurrency} at a time, ${a.max_tokens} tokens each (the server is busy meanwhile)`,
  async run(args, { client, say }) {
    const requests = args.requests ?? defaultRequests(args.concurrency);
    const model = args.model ?? (await servedChatModel(client));
    say(`  benchmarking: ${requests} requests, ${args.concurrency} at a time, ${args.prompt_tokens} prompt tokens, ${args.max_tokens} output tokens each…`);
    const report = await runBench({
      targets: [{ url: client.url, ...(model ? { model } : {}), ...(client.key ? { apiKey: client.key } : {}), label: "nimble" }],
      endpoint: "chat",
      workload: { kind: "synthetic", seed: Date.now() % 1_000_000, inputTokens: args.prompt_tokens, outputTokens: args.max_tokens, ignoreEos: true, prefixTokens: 0, conversations: 0, turns: 0 },
      mode: "concurrency",
      levels: [args.concurrency],
      requests,
      warmup: 1,
      timeoutMs: 120_000,
      temperature: 0,
      slo: {},
      command: `nimble assistant run_benchmark ${JSON.stringify(args)}`,
      version: NIMBLE_VERSION,
    });
    const m = report.levels[0]!.results[0]!;
    if (m.ok === 0) throw new Error(`every benchmark request failed: ${m.errorSamples[0] ?? "no answer"}`);
    const perUser = Number.isFinite(m.itlMs.p50) && m.itlMs.p50 > 0 ? 1000 / m.itlMs.p50 : NaN;
    const result = {
      model: report.targets[0]!.model,
      concurrency: args.concurrency,
      requests: m.requests,
      errors: m.errors,
      output_tokens: m.outputTokens,
      ttft_ms: { p50: m.ttftMs.p50, p90: m.ttftMs.p90 },
      tokens_per_second_per_user: perUser,
      tokens_per_second_total: m.outputTokensPerSecond,
      end_to_end_ms_p50: m.e2eMs.p50,
    };
    return {
      result,
      summary: `${result.model} with ${args.concurrency} simultaneous users: first token after ${ms(m.ttftMs.p50)} (p50; p90 ${ms(m.ttftMs.p90)}), then ${Number.isFinite(perUser) ? perUser.toFixed(1) : "n/a"} tokens/s per user, ${m.outputTokensPerSecond.toFixed(1)} tokens/s in all (${m.ok} of ${m.requests} requests, ${m.outputTokens} tokens)`,
    };
  },
});
