/** The results as text for the terminal: a markdown table of every level and target, and the ratio table of a `--compare` run. */
import type { BenchResults } from "./run.js";

export function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? "n/a" : n.toFixed(digits);
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

const levelName = (r: BenchResults) => (r.load.mode === "concurrency" ? "concurrency" : "rate (req/s)");

export function resultsTable(r: BenchResults): string {
  const many = r.targets.length > 1;
  const goodput = r.slo.ttftMs !== undefined || r.slo.itlMs !== undefined;
  const header = [...(many ? ["server"] : []), levelName(r), "requests", "errors", "out tok/s", "req/s",
    "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50", "ITL p90", "ITL p99", "e2e mean", "e2e p50", "e2e p90", "e2e p99", ...(goodput ? ["goodput req/s"] : [])];
  const rows: string[][] = [];
  for (const level of r.levels) {
    level.results.forEach((m, i) => rows.push([
      ...(many ? [r.targets[i]!.label] : []), String(level.value), String(m.requests),
      m.errors ? `${m.errors} (${Object.entries(m.errorsByKind).map(([k, n]) => `${n} ${k}`).join(", ")})` : "0",
      fmt(m.outputTokensPerSecond), fmt(m.requestsPerSecond, 2),
      fmt(m.ttftMs.p50, 0), fmt(m.ttftMs.p90, 0), fmt(m.ttftMs.p99, 0), fmt(m.itlMs.p50, 1), fmt(m.itlMs.p90, 1), fmt(m.itlMs.p99, 1),
      fmt(m.e2eMs.mean, 0), fmt(m.e2eMs.p50, 0), fmt(m.e2eMs.p90, 0), fmt(m.e2eMs.p99, 0), ...(goodput ? [fmt(m.goodput?.perSecond, 2)] : []),
    ]));
  }
  const notes = [`times in ms; ITL = (e2e - TTFT) / (output tokens - 1); input sizes: ${r.inputSizing}`];
  const chunks = r.levels.some((l) => l.results.some((m) => m.tokenSources.chunks > 0));
  if (chunks) notes.push("some servers sent no usage: their output tokens are counted as content chunks");
  return `${markdownTable(header, rows)}\n\n(${notes.join("; ")})`;
}

export function ratioTable(r: BenchResults): string | undefined {
  if (!r.ratios) return undefined;
  const [a, b] = r.targets;
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : "n/a");
  const rows = r.ratios.map((q) => [String(q.value), x(q.outputTokensPerSecond), x(q.requestsPerSecond), x(q.ttftP50), x(q.itlP50), x(q.e2eP50)]);
  return `ratios ${a!.label} / ${b!.label} (above 1x: more throughput, or slower latency):\n\n${markdownTable([levelName(r), "out tok/s", "req/s", "TTFT p50", "ITL p50", "e2e p50"], rows)}`;
}
