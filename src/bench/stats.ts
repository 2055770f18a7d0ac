/** Small statistics helpers for benchmark results: mean, linear-interpolated percentiles, median, and a summary of one metric. */

/** Linear-interpolated percentile (p in 0..100) of an unsorted list; NaN for an empty one. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = ((s.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function median(values: number[]): number {
  return percentile(values.filter((v) => Number.isFinite(v)), 50);
}

/** Mean and percentiles of one metric (NaN when there are no values; JSON writes those as null). */
export interface Stat {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

export function stat(values: number[]): Stat {
  return {
    mean: mean(values),
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
  };
}
