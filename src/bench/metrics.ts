/**
 * Per-level metrics, defined as in GenAI-Perf: TTFT (send → first chunk carrying content), inter-token
 * latency ((e2e − TTFT) / (output tokens − 1)), end-to-end latency, output tokens/s and requests/s over
 * (first request sent → last response received), errors counted by kind, and goodput under SLOs.
 */
import type { RequestResult } from "./client.js";
import { mean, stat, type Stat } from "./stats.js";

export interface Slo {
  ttftMs?: number;
  itlMs?: number;
}

export interface LevelMetrics {
  /** Requests finished (successful or not). */
  requests: number;
  ok: number;
  errors: number;
  /** Errors counted by kind ("HTTP 500", "timeout", "connection", "malformed SSE", "not streaming", ...). */
  errorsByKind: Record<string, number>;
  /** First few distinct error messages. */
  errorSamples: string[];
  /** First request sent → last response received, seconds. */
  durationS: number;
  outputTokens: number;
  outputTokensPerSecond: number;
  /** Successful requests per second. */
  requestsPerSecond: number;
  ttftMs: Stat;
  /** Per request: (e2e − TTFT) / (output tokens − 1), over requests with at least 2 tokens. */
  itlMs: Stat;
  e2eMs: Stat;
  outputTokensPerRequest: Stat;
  /** Mean `usage.prompt_tokens` when the server reports it. */
  meanInputTokens?: number;
  /** Mean `usage.prompt_tokens_details.cached_tokens` when the server reports it. */
  meanCachedTokens?: number;
  /** How many successful requests had their token count from `usage` vs counted chunks. */
  tokenSources: { usage: number; chunks: number };
  /** Requests meeting every given SLO, and those per second; present only when an SLO is given. */
  goodput?: { slo: Slo; requests: number; perSecond: number };
}

export const itlOf = (r: RequestResult): number | undefined =>
  r.ok && r.ttftMs !== undefined && r.outputTokens > 1 ? (r.e2eMs - r.ttftMs) / (r.outputTokens - 1) : undefined;

export function levelMetrics(results: RequestResult[], slo: Slo = {}): LevelMetrics {
  const ok = results.filter((r) => r.ok);
  const failed = results.filter((r) => !r.ok);
  const first = Math.min(...results.map((r) => r.sentAt));
  const last = Math.max(...results.map((r) => r.endedAt));
  const durationS = results.length ? (last - first) / 1000 : 0;
  const outputTokens = ok.reduce((a, r) => a + r.outputTokens, 0);
  const per = (n: number) => (durationS > 0 ? n / durationS : NaN);
  const errorsByKind: Record<string, number> = {};
  for (const r of failed) errorsByKind[r.errorKind ?? "error"] = (errorsByKind[r.errorKind ?? "error"] ?? 0) + 1;
  const itls = ok.map(itlOf).filter((v): v is number => v !== undefined);
  const inputs = ok.map((r) => r.promptTokens).filter((v): v is number => v !== undefined);
  const cached = ok.map((r) => r.cachedTokens).filter((v): v is number => v !== undefined);
  const m: LevelMetrics = {
    requests: results.length,
    ok: ok.length,
    errors: failed.length,
    errorsByKind,
    errorSamples: [...new Set(failed.map((r) => r.error ?? "unknown"))].slice(0, 3),
    durationS,
    outputTokens,
    outputTokensPerSecond: per(outputTokens),
    requestsPerSecond: per(ok.length),
    ttftMs: stat(ok.map((r) => r.ttftMs!)),
    itlMs: stat(itls),
    e2eMs: stat(ok.map((r) => r.e2eMs)),
    outputTokensPerRequest: stat(ok.map((r) => r.outputTokens)),
    meanInputTokens: inputs.length ? mean(inputs) : undefined,
    meanCachedTokens: cached.length ? mean(cached) : undefined,
    tokenSources: { usage: ok.filter((r) => r.tokenSource === "usage").length, chunks: ok.filter((r) => r.tokenSource === "chunks").length },
  };
  if (slo.ttftMs !== undefined || slo.itlMs !== undefined) {
    const good = ok.filter((r) => (slo.ttftMs === undefined || r.ttftMs! <= slo.ttftMs) && (slo.itlMs === undefined || (itlOf(r) ?? 0) <= slo.itlMs)).length;
    m.goodput = { slo, requests: good, perSecond: per(good) };
  }
  return m;
}
