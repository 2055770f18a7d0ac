/**
 * Metrics (admin scope): scrapes /v1/metrics (Prometheus text) every 2 s while the tab is shown and
 * draws, per model, tokens/s, TTFT and inter-token latency percentiles (over each scrape interval),
 * requests running and waiting, and KV-cache use, as small hand-written SVG line charts.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { apiText, describeError } from "../api";
import { bucketDelta, buckets, parsePrometheus, quantile, valueOf, type Sample } from "../prom";

const POINTS = 60;
const INTERVAL_MS = 2000;

interface Point {
  t: number;
  tokensPerSecond?: number;
  ttftP50?: number;
  ttftP95?: number;
  itlP50?: number;
  itlP95?: number;
  running?: number;
  waiting?: number;
  kv?: number;
}

type Series = { label: string; values: (number | undefined)[] }[];

function models(samples: Sample[]): string[] {
  return [...new Set(samples.filter((s) => s.labels.model_name && (s.name === "num_requests_running" || s.name === "generation_tokens_total")).map((s) => s.labels.model_name!))].sort();
}

/** One point from two consecutive scrapes (rates and percentiles over the interval between them). */
export function point(now: Sample[], before: Sample[] | undefined, model: string, seconds: number): Point {
  const p: Point = { t: Date.now(), running: valueOf(now, "num_requests_running", model), waiting: valueOf(now, "num_requests_waiting", model), kv: valueOf(now, "gpu_cache_usage_perc", model) };
  if (!before || seconds <= 0) return p;
  const tokens = (valueOf(now, "generation_tokens_total", model) ?? 0) - (valueOf(before, "generation_tokens_total", model) ?? 0);
  p.tokensPerSecond = Math.max(0, tokens / seconds);
  const ttft = bucketDelta(buckets(now, "time_to_first_token_seconds", model), buckets(before, "time_to_first_token_seconds", model));
  const itl = bucketDelta(buckets(now, "time_per_output_token_seconds", model), buckets(before, "time_per_output_token_seconds", model));
  const ms = (v: number | undefined) => (v === undefined ? undefined : v * 1000);
  p.ttftP50 = ms(quantile(0.5, ttft));
  p.ttftP95 = ms(quantile(0.95, ttft));
  p.itlP50 = ms(quantile(0.5, itl));
  p.itlP95 = ms(quantile(0.95, itl));
  return p;
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined ? "—" : v.toFixed(digits));

function Chart({ title, unit, series, max }: { title: string; unit: string; series: Series; max?: number }) {
  const W = 300, H = 110, PAD = 4;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const top = max ?? Math.max(1e-9, ...all) * 1.1;
  const x = (i: number) => PAD + (i * (W - 2 * PAD)) / (POINTS - 1);
  const y = (v: number) => H - PAD - (Math.min(v, top) / top) * (H - 2 * PAD);
  const latest = series.map((s) => `${s.label} ${fmt([...s.values].reverse().find((v) => v !== undefined))} ${unit}`).join(", ");
  return (
    <figure class="chart">
      <figcaption>
        {title} <span class="muted">({latest})</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${latest}`} preserveAspectRatio="none">
        <line x1={PAD} x2={W - PAD} y1={H - PAD} y2={H - PAD} class="axis" />
        <text x={PAD + 2} y={12} class="axis-label">{fmt(top, top < 10 ? 2 : 0)} {unit}</text>
        {series.map((s, k) => {
          const offset = POINTS - s.values.length;
          const segments: string[][] = [[]];
          s.values.forEach((v, i) => {
            if (v === undefined) segments.push([]);
            else segments.at(-1)!.push(`${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`);
          });
          return segments.filter((seg) => seg.length > 0).map((seg, j) => <polyline key={`${k}-${j}`} points={seg.length === 1 ? `${seg[0]} ${seg[0]}` : seg.join(" ")} class={`line line-${k}`} />);
        })}
      </svg>
      <div class="legend">
        {series.map((s, k) => (
          <span key={s.label} class={`key key-${k}`}>{s.label}</span>
        ))}
      </div>
    </figure>
  );
}

export function MetricsTab({ active }: { active: boolean }) {
  const [history, setHistory] = useState<Record<string, Point[]>>({});
  const [error, setError] = useState("");
  const last = useRef<{ samples: Sample[]; at: number } | undefined>(undefined);

  useEffect(() => {
    if (!active) return;
    let stopped = false;
    const scrape = async () => {
      try {
        const samples = parsePrometheus(await apiText("/v1/metrics"));
        const at = performance.now();
        const before = last.current;
        last.current = { samples, at };
        setError("");
        setHistory((h) => {
          const next: Record<string, Point[]> = {};
          for (const m of models(samples)) next[m] = [...(h[m] ?? []), point(samples, before?.samples, m, before ? (at - before.at) / 1000 : 0)].slice(-POINTS);
          return next;
        });
      } catch (err) {
        setError(describeError(err));
      }
    };
    void scrape();
    const timer = setInterval(() => !stopped && void scrape(), INTERVAL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [active]);

  const names = Object.keys(history);
  return (
    <div class="stack">
      <h2>Metrics</h2>
      <p class="muted">From <code>/v1/metrics</code> every {INTERVAL_MS / 1000} s; rates and percentiles are over each interval.</p>
      {error && <p class="error" role="alert">{error}</p>}
      {names.length === 0 && !error && <p class="muted">No chat model is loaded yet.</p>}
      {names.map((m) => {
        const pts = history[m]!;
        const pick = (k: keyof Point) => pts.map((p) => p[k] as number | undefined);
        return (
          <section key={m} class="card" aria-label={`Metrics of ${m}`} data-testid="model-metrics">
            <h3>{m}</h3>
            <div class="charts">
              <Chart title="Generation" unit="tokens/s" series={[{ label: "tokens/s", values: pick("tokensPerSecond") }]} />
              <Chart title="Time to first token" unit="ms" series={[{ label: "p50", values: pick("ttftP50") }, { label: "p95", values: pick("ttftP95") }]} />
              <Chart title="Inter-token latency" unit="ms" series={[{ label: "p50", values: pick("itlP50") }, { label: "p95", values: pick("itlP95") }]} />
              <Chart title="Requests" unit="" series={[{ label: "running", values: pick("running") }, { label: "waiting", values: pick("waiting") }]} />
              <Chart title="KV cache in use" unit="%" max={100} series={[{ label: "used", values: pts.map((p) => (p.kv === undefined ? undefined : p.kv * 100)) }]} />
            </div>
          </section>
        );
      })}
    </div>
  );
}
