/**
 * A self-contained HTML report (inline CSS and SVG, no scripts, fonts or network): charts of
 * throughput, TTFT and ITL percentiles against the level for every target, the table, and the run's settings.
 */
import type { BenchResults } from "./run.js";
import { fmt } from "./report-text.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const DASHES: Record<string, string> = { p50: "", p90: "6 4", p99: "2 3" };

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface Series {
  name: string;
  color: string;
  dash: string;
  values: number[];
}

/** A nice round upper bound for an axis. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A line chart over categorical x values (the levels), y from 0. */
export function lineChart(title: string, xLabel: string, yLabel: string, xs: number[], series: Series[]): string {
  const W = 560, H = 320, L = 64, R = 16, T = 36, B = 70;
  const pw = W - L - R, ph = H - T - B;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite))));
  const x = (i: number) => L + (xs.length === 1 ? pw / 2 : (i * pw) / (xs.length - 1));
  const y = (v: number) => T + ph - (v / max) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" class="title">${escapeHtml(title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${escapeHtml(String(Number(v.toFixed(max >= 10 ? 0 : 2))))}</text>`);
  }
  xs.forEach((v, i) => parts.push(`<text x="${x(i)}" y="${T + ph + 16}" text-anchor="middle">${v}</text>`));
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}" class="axis"/><line x1="${L}" x2="${W - R}" y1="${T + ph}" y2="${T + ph}" class="axis"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${T + ph + 34}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`);
  for (const s of series) {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : "")).filter(Boolean);
    if (pts.length > 1) parts.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
    for (const p of pts) { const [px, py] = p.split(","); parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`); }
  }
  // Legend below the axis label, wrapping every 3 entries.
  series.forEach((s, i) => {
    const lx = L + (i % 3) * 165, ly = T + ph + 50 + Math.floor(i / 3) * 16;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
    parts.push(`<text x="${lx + 30}" y="${ly}">${escapeHtml(s.name)}</text>`);
  });
  const height = H + Math.max(0, Math.floor((series.length - 1) / 3)) * 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${parts.join("")}</svg>`;
}

export function reportHtml(r: BenchResults): string {
  const xs = r.levels.map((l) => l.value);
  const xLabel = r.load.mode === "concurrency" ? "concurrency (requests in flight)" : "request rate (requests/s)";
  const pct = (metric: "ttftMs" | "itlMs"): Series[] => r.targets.flatMap((t, ti) => (["p50", "p90", "p99"] as const).map((p) => ({
    name: `${r.targets.length > 1 ? `${t.label} ` : ""}${p}`, color: COLORS[ti % COLORS.length]!, dash: DASHES[p]!,
    values: r.levels.map((l) => l.results[ti]![metric][p]),
  })));
  const throughput: Series[] = r.targets.map((t, ti) => ({ name: t.label, color: COLORS[ti % COLORS.length]!, dash: "", values: r.levels.map((l) => l.results[ti]!.outputTokensPerSecond) }));
  const charts = [
    lineChart("Output throughput", xLabel, "output tokens/s", xs, throughput),
    lineChart("Time to first token", xLabel, "TTFT (ms)", xs, pct("ttftMs")),
    lineChart("Inter-token latency", xLabel, "ITL (ms)", xs, pct("itlMs")),
  ];
  const withSlo = r.slo.ttftMs !== undefined || r.slo.itlMs !== undefined;
  if (withSlo) {
    charts.push(lineChart("Goodput (requests meeting the SLOs)", xLabel, "requests/s", xs,
      r.targets.map((t, ti) => ({ name: t.label, color: COLORS[ti % COLORS.length]!, dash: "", values: r.levels.map((l) => l.results[ti]!.goodput?.perSecond ?? NaN) }))));
  }
  const many = r.targets.length > 1;
  const head = [...(many ? ["server"] : []), r.load.mode === "concurrency" ? "concurrency" : "rate", "requests", "errors", "out tok/s", "req/s",
    "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50", "ITL p90", "ITL p99", "e2e mean", "e2e p50", "e2e p90", "e2e p99", ...(withSlo ? ["goodput/s"] : [])];
  const rows = r.levels.flatMap((l) => l.results.map((m, ti) => [
    ...(many ? [r.targets[ti]!.label] : []), String(l.value), String(m.requests),
    m.errors ? `${m.errors} (${Object.entries(m.errorsByKind).map(([k, n]) => `${n} ${k}`).join(", ")})` : "0",
    fmt(m.outputTokensPerSecond), fmt(m.requestsPerSecond, 2), fmt(m.ttftMs.p50, 0), fmt(m.ttftMs.p90, 0), fmt(m.ttftMs.p99, 0),
    fmt(m.itlMs.p50, 1), fmt(m.itlMs.p90, 1), fmt(m.itlMs.p99, 1), fmt(m.e2eMs.mean, 0), fmt(m.e2eMs.p50, 0), fmt(m.e2eMs.p90, 0), fmt(m.e2eMs.p99, 0),
    ...(withSlo ? [fmt(m.goodput?.perSecond, 2)] : []),
  ]));
  const table = (h: string[], body: string[][], cls = "") =>
    `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${h.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>${body.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "n/a");
  const ratioTable = r.ratios
    ? `<h2>Ratios: ${escapeHtml(r.targets[0]!.label)} / ${escapeHtml(r.targets[1]!.label)}</h2>${table(["level", "out tok/s", "req/s", "TTFT p50", "ITL p50", "e2e p50"],
      r.ratios.map((q) => [String(q.value), x(q.outputTokensPerSecond), x(q.requestsPerSecond), x(q.ttftP50), x(q.itlP50), x(q.e2eP50)]))}`
    : "";
  const targets = table(["server", "URL", "model", "endpoint", "note"], r.targets.map((t) => [t.label, t.url, t.model, t.endpoint, t.extraBody ?? ""]), "text");
  const settings = table(["setting", "value"], [
    ["workload", Object.entries(r.workload).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ")],
    ["load", `${r.load.mode} ${r.load.levels.join(", ")}; ${r.load.durationS !== undefined ? `${r.load.durationS} s` : `${r.load.requests ?? "default"} requests`} per level; warm-up ${r.load.warmup}; timeout ${r.load.timeoutMs} ms; temperature ${r.load.temperature}`],
    ["SLOs", r.slo.ttftMs !== undefined || r.slo.itlMs !== undefined ? `TTFT ≤ ${r.slo.ttftMs ?? "-"} ms, ITL ≤ ${r.slo.itlMs ?? "-"} ms` : "none"],
    ["input sizes", r.inputSizing],
    ["machine", `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.totalMemoryGiB} GiB, ${r.machine.platform}, Node ${r.machine.node}`],
    ["run", `${r.startedAt} → ${r.finishedAt}`],
    ["command", r.command],
  ], "text");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nimble bench report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}p.sub{color:#555;margin:0 0 16px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{border:1px solid #ddd;border-radius:4px;background:#fcfcfc}
svg text{font-size:11px;fill:#333}svg text.title{font-size:14px;font-weight:600}svg .grid{stroke:#e4e4e4}svg .axis{stroke:#888}
table{border-collapse:collapse;font-size:12px;margin-bottom:8px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}table.text td,table.text th{text-align:left}
</style></head><body>
<h1>nimble bench — ${escapeHtml(r.workload.kind)} workload, ${escapeHtml(r.targets.map((t) => t.label).join(" vs "))}</h1>
<p class="sub">${escapeHtml(r.endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions")}, streaming; TTFT = send → first chunk with content; ITL = (e2e − TTFT) / (output tokens − 1); throughput = output tokens / (first request sent → last response received). Times in ms.</p>
<div class="charts">${charts.join("\n")}</div>
<h2>Results</h2>${table(head, rows)}
${ratioTable}
<h2>Servers</h2>${targets}
<h2>Run</h2>${settings}
</body></html>
`;
}
