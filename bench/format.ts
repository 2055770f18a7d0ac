/** Number formatting and markdown tables for the bench scripts (shared with `nimble bench`). */
export { fmt, markdownTable } from "../src/bench/report-text.js";
export { median } from "../src/bench/stats.js";

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : "n/a";
}
