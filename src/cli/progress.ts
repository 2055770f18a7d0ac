/** Progress bars on stderr (redrawn in place on a terminal, a few plain lines otherwise). */
import type { DownloadProgress } from "../models/download.js";

export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export class ProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastPlainStep = -1;
  private readonly tty: boolean;
  /** Units already done when the bar started (a resumed download): not counted in the rate. */
  private baseline: number | undefined;

  constructor(private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  /** `done` and `total` in bytes (or any unit when `bytes` is false). */
  update(done: number, total: number | undefined, bytes = true): void {
    this.baseline ??= done;
    const now = Date.now();
    const fraction = total ? Math.min(1, done / total) : undefined;
    const pct = fraction === undefined ? "" : `${String(Math.round(fraction * 100)).padStart(3)}%`;
    if (!this.tty) {
      // Plain output (a log file, a pipe): a line at 0, 25, 50, 75 and 100%.
      const step = fraction === undefined ? -1 : Math.floor(fraction * 4);
      if (step > this.lastPlainStep) {
        this.lastPlainStep = step;
        this.stream.write(`${this.label}: ${pct.trim() || "0%"}${bytes ? ` ${this.detail(done, total, now)}` : ""}\n`);
      }
      return;
    }
    if (now - this.lastDraw < 100 && fraction !== 1) return;
    this.lastDraw = now;
    const width = 24;
    const filled = fraction === undefined ? 0 : Math.round(fraction * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    this.stream.write(`\r${this.label} ${bar} ${pct}${bytes ? `  ${this.detail(done, total, now)}` : ""}\x1b[K`);
  }

  /** "12.0 MB / 400.0 MB, 5.1 MB/s, ETA 1m16s" */
  private detail(done: number, total: number | undefined, now: number): string {
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? (done - (this.baseline ?? 0)) / seconds : 0;
    const eta = total && rate > 0 ? Math.ceil((total - done) / rate) : undefined;
    return `${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ""}, ${formatBytes(rate)}/s${eta !== undefined ? `, ETA ${formatSeconds(eta)}` : ""}`;
  }

  finish(): void {
    if (this.tty) this.stream.write("\n");
  }
}

/** One bar per downloaded file (split models have several), for `onProgress`/`onDownloadProgress` callbacks. */
export function downloadBars(stream: NodeJS.WriteStream = process.stderr): { onProgress: (p: DownloadProgress) => void; finish: () => void } {
  const bars = new Map<string, ProgressBar>();
  let current: ProgressBar | undefined;
  return {
    onProgress: (p) => {
      let bar = bars.get(p.file);
      if (!bar) {
        current?.finish();
        bar = new ProgressBar(`${p.copy ? "copying" : "downloading"} ${p.file}`, stream);
        bars.set(p.file, bar);
      }
      current = bar;
      bar.update(p.received, p.total);
    },
    finish: () => { current?.finish(); current = undefined; },
  };
}
