/**
 * The closed-loop level runner used by compare.ts, kept as a thin adapter over the shared library in
 * src/bench: `runLevel` keeps exactly `concurrency` streaming `POST /v1/completions` requests in flight
 * until `requests` have finished, one prompt each, and returns the level's metrics.
 */
import { type Target } from "../src/bench/client.js";
import { levelMetrics, type LevelMetrics } from "../src/bench/metrics.js";
import { runLoad } from "../src/bench/runner.js";
import { probeServer } from "../src/bench/server-info.js";

export { mean, percentile } from "../src/bench/stats.js";
export { defaultRequests } from "../src/bench/run.js";

export interface LevelOptions {
  /** Server base URL, without `/v1` (e.g. http://127.0.0.1:8080). */
  url: string;
  model: string;
  concurrency: number;
  requests: number;
  /** Prompts to send, request i uses prompts[i % prompts.length]. Give `requests` distinct ones to avoid prompt-cache hits. */
  prompts: string[];
  maxTokens: number;
  /** Per-request timeout (whole request, including streaming). */
  timeoutMs: number;
  /** Extra request-body fields for this server (e.g. llama-server's logit_bias, see src/bench/quirks.ts). */
  extraBody?: Record<string, unknown>;
}

export type LevelResult = LevelMetrics & { concurrency: number };

/** Runs one concurrency level: `concurrency` workers each send their next request as soon as the previous ends. */
export async function runLevel(o: LevelOptions): Promise<LevelResult> {
  if (o.prompts.length === 0) throw new Error("runLevel: no prompts");
  const target: Target = { label: o.url, baseUrl: o.url, model: o.model, endpoint: "completions", timeoutMs: o.timeoutMs, temperature: 0, extraBody: o.extraBody };
  const results = await runLoad(target, {
    mode: "concurrency", value: o.concurrency, maxRequests: o.requests, maxSessions: o.requests, seed: 0,
    openSession: async (i) => {
      let sent = false;
      const spec = { messages: [{ role: "user" as const, content: o.prompts[i % o.prompts.length]! }], maxTokens: o.maxTokens, ignoreEos: true };
      return { next: () => (sent ? undefined : ((sent = true), spec)) };
    },
  });
  return { concurrency: o.concurrency, ...levelMetrics(results) };
}

/** The first model id a server lists at GET /v1/models. */
export async function firstModelId(url: string): Promise<string> {
  const info = await probeServer(url);
  if (!info.firstModel) throw new Error(`GET ${url}/v1/models listed no model`);
  return info.firstModel;
}
