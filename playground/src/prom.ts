/**
 * Prometheus text format, just enough for the metrics tab: samples by name and labels, and
 * histogram quantiles (linear interpolation inside the bucket, as PromQL's histogram_quantile).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The value of `name` for a model (summed over other labels); undefined when absent. */
export function valueOf(samples: Sample[], name: string, model: string): number | undefined {
  let sum: number | undefined;
  for (const s of samples) if (s.name === name && s.labels.model_name === model) sum = (sum ?? 0) + s.value;
  return sum;
}

/** Cumulative bucket counts of a histogram for a model, sorted by upper bound. */
export function buckets(samples: Sample[], name: string, model: string): { le: number; count: number }[] {
  return samples
    .filter((s) => s.name === `${name}_bucket` && s.labels.model_name === model)
    .map((s) => ({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), count: s.value }))
    .sort((a, b) => a.le - b.le);
}

/** The q-quantile of a histogram given as cumulative buckets (e.g. the difference of two scrapes). */
export function quantile(q: number, bs: { le: number; count: number }[]): number | undefined {
  const total = bs.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const b of bs) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Bucket counts of `now` minus `before` (the observations between two scrapes). */
export function bucketDelta(now: { le: number; count: number }[], before: { le: number; count: number }[]): { le: number; count: number }[] {
  return now.map((b) => ({ le: b.le, count: b.count - (before.find((p) => p.le === b.le)?.count ?? 0) }));
}
