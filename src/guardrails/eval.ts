/**
 * Evaluates a configuration's rails on a labelled JSONL set: per rail, precision, recall, F1 and
 * false-positive rate, and the latency the stage adds (p50/p99). A row is
 * `{"text": "...", "labels": {"<rail name or kind>": true|false}, "stage"?: "input"|"output"|"retrieval"}`
 * (or `"messages": [{role, content}]` instead of text); a rail is scored on the rows that label it.
 */
import { z } from "zod";
import type { CompiledConfig, Guardrails } from "./guardrails.js";
import type { CheckedText, Rail, RailModels, RailType } from "./types.js";

const rowSchema = z.object({
  text: z.string().optional(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).min(1).optional(),
  labels: z.record(z.boolean()),
  stage: z.enum(["input", "output", "retrieval"]).default("input"),
}).refine((r) => r.text !== undefined || r.messages !== undefined, { message: "a row needs text or messages" });
export type EvalRow = z.infer<typeof rowSchema>;

/** Parses a JSONL dataset; a bad line is an error naming its number. */
export function parseDataset(text: string, source: string): EvalRow[] {
  const rows: EvalRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim().length === 0) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new Error(`${source}:${i + 1}: not valid JSON`);
    }
    const parsed = rowSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${source}:${i + 1}: ${parsed.error.issues[0]!.message} at ${parsed.error.issues[0]!.path.join(".") || "the row"}`);
    rows.push(parsed.data);
  });
  return rows;
}

export interface RailScore {
  rail: string;
  kind: string;
  type: RailType;
  rows: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  errors: number;
  precision: number;
  recall: number;
  f1: number;
  falsePositiveRate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Why the rail was not scored (e.g. it needs a model that was not given). */
  skipped?: string;
}

export interface EvalReport {
  config: string;
  rows: number;
  rails: RailScore[];
  /** Time the whole stage (all its rails, concurrently) added per row. */
  addedLatency: { p50Ms: number; p99Ms: number };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const MODEL_KINDS = new Set(["perplexity", "guard_model", "self_check", "topic"]);

function textsOf(row: EvalRow): CheckedText[] {
  return row.messages ? row.messages.map((m) => ({ role: m.role, text: m.content })) : [{ role: row.stage === "output" ? "assistant" : row.stage === "retrieval" ? "tool" : "user", text: row.text! }];
}

/** Runs every rail of the configuration on every row that labels it. `available` says which model kinds can run. */
export async function evaluate(guardrails: Guardrails, configId: string, rows: EvalRow[], models: RailModels, available: { chat: boolean; embedding: boolean }): Promise<EvalReport> {
  const compiled: CompiledConfig | undefined = guardrails.resolve(configId);
  if (!compiled) throw new Error(`no configuration '${configId}'`);
  const rails: Rail[] = [...compiled.rails.input, ...compiled.rails.retrieval, ...compiled.rails.output];
  const scores = new Map<Rail, RailScore & { latencies: number[] }>();
  for (const r of rails) {
    const needs = MODEL_KINDS.has(r.kind) ? (r.kind === "topic" ? (available.embedding ? undefined : "needs --embedding-model") : available.chat ? undefined : "needs --model") : undefined;
    scores.set(r, { rail: r.name, kind: r.kind, type: r.type, rows: 0, tp: 0, fp: 0, tn: 0, fn: 0, errors: 0, precision: 0, recall: 0, f1: 0, falsePositiveRate: 0, latencyP50Ms: 0, latencyP99Ms: 0, latencies: [], ...(needs ? { skipped: needs } : {}) });
  }
  // Warm-up (regex compilation, JIT) so that latencies are those of a running server.
  for (const row of rows.slice(0, 5)) {
    await Promise.all(rails.filter((r) => r.type === row.stage && !MODEL_KINDS.has(r.kind)).map((r) => r.check(textsOf(row), { stage: row.stage, conversation: [], models }).catch(() => undefined)));
  }
  const stageLatency: number[] = [];
  for (const row of rows) {
    const texts = textsOf(row);
    const conversation = row.stage === "output" ? [] : texts.map((t) => ({ role: t.role, content: t.text }));
    const runnable = rails.filter((r) => r.type === row.stage && !scores.get(r)!.skipped);
    const started = performance.now();
    await Promise.all(runnable.map(async (rail) => {
      const score = scores.get(rail)!;
      const expected = row.labels[rail.name] ?? row.labels[rail.kind];
      const t0 = performance.now();
      let fired: boolean;
      try {
        fired = (await rail.check(texts, { stage: row.stage, conversation, models })).fired;
      } catch {
        score.errors++;
        fired = rail.onError === "closed";
      }
      score.latencies.push(performance.now() - t0);
      if (expected === undefined) return;
      score.rows++;
      if (fired && expected) score.tp++;
      else if (fired && !expected) score.fp++;
      else if (!fired && expected) score.fn++;
      else score.tn++;
    }));
    if (runnable.length > 0) stageLatency.push(performance.now() - started);
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const out: RailScore[] = [];
  for (const s of scores.values()) {
    const { latencies, ...score } = s;
    score.precision = round(s.tp + s.fp > 0 ? s.tp / (s.tp + s.fp) : 0);
    score.recall = round(s.tp + s.fn > 0 ? s.tp / (s.tp + s.fn) : 0);
    score.f1 = round(score.precision + score.recall > 0 ? (2 * score.precision * score.recall) / (score.precision + score.recall) : 0);
    score.falsePositiveRate = round(s.fp + s.tn > 0 ? s.fp / (s.fp + s.tn) : 0);
    score.latencyP50Ms = round(percentile(latencies, 50));
    score.latencyP99Ms = round(percentile(latencies, 99));
    out.push(score);
  }
  return { config: configId, rows: rows.length, rails: out, addedLatency: { p50Ms: round(percentile(stageLatency, 50)), p99Ms: round(percentile(stageLatency, 99)) } };
}

/** The report as a text table. */
export function formatReport(report: EvalReport): string {
  const lines = [`config ${report.config}: ${report.rows} rows; stage latency added p50 ${report.addedLatency.p50Ms} ms, p99 ${report.addedLatency.p99Ms} ms`];
  lines.push(["rail", "kind", "type", "rows", "precision", "recall", "F1", "FPR", "p50 ms", "p99 ms"].map((h, i) => (i < 3 ? h.padEnd(18) : h.padStart(9))).join(" "));
  for (const r of report.rails) {
    if (r.skipped) { lines.push(`${r.rail.padEnd(18)} ${r.kind.padEnd(18)} ${r.type.padEnd(18)} skipped: ${r.skipped}`); continue; }
    if (r.rows === 0) { lines.push(`${r.rail.padEnd(18)} ${r.kind.padEnd(18)} ${r.type.padEnd(18)} no labelled rows`); continue; }
    lines.push([r.rail.padEnd(18), r.kind.padEnd(18), r.type.padEnd(18), ...[r.rows, r.precision, r.recall, r.f1, r.falsePositiveRate, r.latencyP50Ms, r.latencyP99Ms].map((v) => String(v).padStart(9))].join(" ") + (r.errors > 0 ? `  (${r.errors} errors)` : ""));
  }
  return lines.join("\n");
}
